"""hanet_refine: refine pose keypoint sequences with HANet."""
