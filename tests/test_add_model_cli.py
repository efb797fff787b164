"""`lastmile add-model`: a model folder on the server joins the catalog; pickled weights are refused."""

from pathlib import Path

import pytest
from sqlalchemy import select

from worker.cli import main


def test_add_model_registers_a_safetensors_folder_and_refuses_others(env, session, capsys, tmp_path: Path):
    from app.models import BaseModel
    from tests.tiny_model import tiny_model_dir

    main(["add-model", "--name", "Our tiny model", "--folder", str(tiny_model_dir())])
    assert "Added Our tiny model" in capsys.readouterr().out
    model = session.scalars(select(BaseModel).where(BaseModel.name == "Our tiny model")).one()
    assert (model.source, model.location, model.workspace_id) == ("local", str(tiny_model_dir()), None)

    pickled = tmp_path / "pickled"
    pickled.mkdir()
    (pickled / "config.json").write_text("{}")
    (pickled / "pytorch_model.bin").write_bytes(b"not loaded")
    with pytest.raises(SystemExit, match=r"no \.safetensors weights"):
        main(["add-model", "--name", "Pickled", "--folder", str(pickled)])
