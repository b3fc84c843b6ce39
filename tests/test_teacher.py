"""Training towards a teacher's outputs (data.train_target=teacher): the pairs, and the real
CLI chain a user runs: octsr.enhance writes the teacher's outputs, octsr.crossval trains a
student on them, each fold from its own teacher ({fold} in a row)."""

import json
import shutil

import cv2
import numpy as np
import pytest

from octsr.data.pairs import DukePairs, FolderPairs
from octsr.errors import DataError
from tests.conftest import run_cli


def write_subjects(root, subjects, frames=("test.tif", "1.tif", "average.tif"), shape=(64, 80), seed=0):
    rng = np.random.default_rng(seed)
    for subject in subjects:
        (root / subject).mkdir(parents=True)
        for name in frames:
            cv2.imwrite(str(root / subject / name), (rng.random(shape) * 255).astype(np.uint8))


def test_teacher_pairs_train_each_frame_towards_its_own_teacher_output(tmp_path):
    data, teacher = tmp_path / "duke", tmp_path / "teacher"
    write_subjects(data, ["01", "02"])
    write_subjects(teacher, ["01"], frames=("test.tif", "1.tif"), seed=1)
    splits = DukePairs(data, ["01"], ["02"], [], train_target="teacher", teacher_dir=teacher).splits()
    assert [(p.noisy_path.relative_to(data), p.target_path) for p in splits["train"]] == [
        (data.joinpath("01", name).relative_to(data), teacher / "01" / name) for name in ("test.tif", "1.tif")]
    assert splits["val"][0].target_path == data / "02" / "average.tif"  # scored against the average
    noisy, target = splits["train"][1].load()
    assert noisy.shape == target.shape == (64, 80) and not np.array_equal(noisy, target)
    (teacher / "01" / "1.tif").unlink()
    with pytest.raises(DataError, match=r"teacher/01/1.tif: missing \(the teacher's output for 01"):
        DukePairs(data, ["01"], ["02"], [], train_target="teacher", teacher_dir=teacher).splits()


def test_folder_layout_reads_the_teacher_output_at_each_frames_own_path(tmp_path):
    data, teacher = tmp_path / "scans", tmp_path / "teacher"
    for folder, names in ((data / "noisy", ("a.png", "a.1.png", "b.png")), (data / "clean", ("a.png", "b.png")),
                          (teacher / "noisy", ("a.png", "a.1.png"))):
        folder.mkdir(parents=True)
        for name in names:
            cv2.imwrite(str(folder / name), np.full((16, 20), 40, np.uint8))
    train = FolderPairs(data, train=["a"], val=["b"], train_target="teacher", teacher_dir=teacher).splits()["train"]
    assert [(p.noisy_path.name, p.target_path) for p in train] == [
        ("a.png", teacher / "noisy" / "a.png"), ("a.1.png", teacher / "noisy" / "a.1.png")]


def test_a_student_cross_validates_on_each_folds_teacher(tmp_path):
    data, teachers = tmp_path / "duke", tmp_path / "teachers"
    subjects = ["01", "02", "03", "04"]
    write_subjects(data, subjects)
    made = run_cli("octsr.enhance", f"input={data}", f"output={teachers / 'fold0'}", "weights=fast")
    assert made.returncode == 0, made.stderr[-2000:]
    row = f'+rows={{student: "model=srcnn data.train_target=teacher data.teacher_dir={teachers}/fold{{fold}}"}}'
    args = [f"subjects=[{','.join(subjects)}]", "folds=2", "val_subjects=1", f"data_root={data}", "~rows", row,
            'train_overrides="debug=tiny trainer=cpu data.protocol.crop_size=48 callbacks.progress_bar=null"',
            "bm3d.enabled=false"]
    # Fold 1's teacher is missing: refused in one line before any fold trains.
    refused = run_cli("octsr.crossval", *args, f"hydra.run.dir={tmp_path / 'refused'}")
    assert refused.returncode == 2 and "rows.student" in refused.stderr and "fold 1" in refused.stderr
    assert f"{teachers}/fold1/" in refused.stderr and not (tmp_path / "refused" / "student").exists()
    shutil.copytree(teachers / "fold0", teachers / "fold1")
    done = run_cli("octsr.crossval", *args, f"hydra.run.dir={tmp_path / 'run'}")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    for k in (0, 1):
        command = json.loads((tmp_path / "run" / "student" / f"fold{k}" / "fold_result.json").read_text())["command"]
        assert f"data.teacher_dir={teachers}/fold{k}" in command
    assert "| student |" in (tmp_path / "run" / "crossval.md").read_text()
