"""Publishing a trained model folder to the Hugging Face Hub."""

from __future__ import annotations

from pathlib import Path

from huggingface_hub import HfApi

from ..registry import CONFIG_FILE, WEIGHTS_FILE

__all__ = ["push_to_hub"]


def push_to_hub(folder: str | Path, repo_id: str, *, token: str | None = None, private: bool | None = None,
                revision: str | None = None, commit_message: str = "Upload hanet_refine model") -> str:
    """Upload ``model.safetensors``, ``config.json`` and the model card of ``folder``.

    Returns:
        The URL of the commit.

    Raises:
        FileNotFoundError: if the folder lacks the weights or the config.
    """
    folder = Path(folder)
    missing = [f for f in (WEIGHTS_FILE, CONFIG_FILE) if not (folder / f).is_file()]
    if missing:
        raise FileNotFoundError(f"{str(folder)!r} lacks {missing}; export the model with Refiner.save_pretrained first")
    api = HfApi(token=token, library_name="hanet-refine")
    api.create_repo(repo_id, private=private, exist_ok=True)
    info = api.upload_folder(folder_path=str(folder), repo_id=repo_id, revision=revision,
                             commit_message=commit_message,
                             allow_patterns=[WEIGHTS_FILE, CONFIG_FILE, "README.md", "results*.json"])
    return str(getattr(info, "commit_url", info))
