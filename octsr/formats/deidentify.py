"""DICOM's Basic Application Level Confidentiality Profile (PS3.15 Annex E) applied to a
whole dataset, nested sequences and file meta included.

The profile's table of attributes and actions comes from dicom-anonymizer (its newest
edition of the standard); the walk is octsr's, because dicom-anonymizer applies the table
to the top level only, and an Ophthalmic Tomography object carries its acquisition date and
time in every frame's functional groups. Each attribute the table names gets, of the
actions the profile allows for it, the one that keeps the object valid: a dummy value (D)
where one is allowed (an attribute the IOD requires stays present), else an empty value (Z),
else removal (X). UIDs (U) are replaced, the same old UID by the same new one everywhere in
the run, so references inside a derived series still agree. After the table, a sweep over
what is left: private attributes removed, every date, time and date-time given a dummy
value, every person's name emptied, and any other UID that repeats one of the replaced ones
replaced likewise. The dataset is marked (Patient Identity Removed, De-identification
Method and its code) as the profile asks.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

PROFILE_EDITION = "dicomfields_2026c"  # dicom-anonymizer's newest table of the profile
# Valid dummy values for each value representation (not the year 0001, which validators flag).
DUMMY = {"DA": "19000101", "TM": "000000", "DT": "19000101000000",
         "AS": "000Y"}
DUMMY_TEXT = "ANONYMIZED"
# Attributes the Ophthalmic Tomography IOD requires with a value (type 1) that the profile
# lets be replaced or emptied: replaced, so the object stays valid.
REQUIRED = {"DeviceSerialNumber"}
TEXT_VRS = {"LO", "SH", "LT", "ST", "UT", "CS", "AE", "UC", "UR"}
DATE_TIME_VRS = {"DA", "TM", "DT"}

# One old UID -> its new UID for the life of the process: the derived objects of one study
# written in one run still share their new study UID.
_new_uids: dict[str, str] = {}


def _actions() -> dict[tuple[int, ...], str]:
    """Tag (or masked tag range) -> the profile's allowed actions, e.g. "XZD"."""
    from dicomanonymizer.dicomfields_selector import dicom_anonymization_database_selector

    tables = dicom_anonymization_database_selector(PROFILE_EDITION)
    actions: dict[tuple[int, ...], str] = {}
    for category, tags in tables.items():
        if category == "ALL_TAGS":
            continue
        letters = category.removesuffix("_TAGS").replace("_STAR", "").replace("_", "")
        for tag in tags:
            actions[tuple(tag)] = letters
    return actions


def _action_for(tag, exact: dict, masked: list) -> str | None:
    found = exact.get((tag.group, tag.element))
    if found is not None:
        return found
    for (group, element, group_mask, element_mask), letters in masked:
        if tag.group & group_mask == group & group_mask and tag.element & element_mask == element & element_mask:
            return letters
    return None


def new_uid(old: str) -> str:
    from pydicom.uid import generate_uid

    if old not in _new_uids:
        _new_uids[old] = generate_uid()
    return _new_uids[old]


def _replace_uids(element) -> None:
    from pydicom.multival import MultiValue

    if isinstance(element.value, MultiValue):
        element.value = [new_uid(str(v)) for v in element.value]
    elif element.value:
        element.value = new_uid(str(element.value))


def _dummy(element) -> Any:
    if element.VR in DUMMY:
        return DUMMY[element.VR]
    if element.VR in TEXT_VRS:
        return DUMMY_TEXT
    return None  # numbers, binary: emptied


def _datasets(dataset):
    """The dataset and every item of every sequence in it, at any depth."""
    yield dataset
    for element in list(dataset):
        if element.VR == "SQ" and element.value is not None:
            for item in element.value:
                yield from _datasets(item)


def deidentify(dataset, keep: tuple[str, ...] = ()) -> list[str]:
    """Apply the basic profile to `dataset` in place (every depth, file meta too), then put
    back the top-level `keep` attributes (text octsr wrote itself). Returns what it did, as
    "removed ..." and "replaced ..." by keyword, nested attributes counted by how often."""
    kept = {keyword: dataset[keyword].value for keyword in keep if keyword in dataset}
    run = _Deidentification(_actions())
    _each_dataset(dataset, run.apply_table)
    private = sum(1 for ds in _datasets(dataset) for element in ds if element.tag.is_private)
    dataset.remove_private_tags()  # pydicom walks every depth
    _each_dataset(dataset, run.sweep)
    run.clean_meta(getattr(dataset, "file_meta", None))
    for keyword, value in kept.items():
        setattr(dataset, keyword, value)
        run.removed.pop(keyword, None)
        run.replaced.pop(keyword, None)
    _mark(dataset)
    notes = [f"removed {_listed(run.removed)}", f"replaced {_listed(run.replaced)}"]
    if private:
        notes.append(f"removed {private} private attribute(s)")
    return notes


def _each_dataset(dataset, step) -> None:
    """`step` on `dataset`, then on every item of every sequence left in it, at any depth
    (each item after `step` has run on its parent, which may have emptied the sequence)."""
    step(dataset)
    for element in list(dataset):
        if element.VR == "SQ" and element.value:
            for item in element.value:
                _each_dataset(item, step)


class _Deidentification:
    """One run of the profile: the table's actions, what was removed and replaced (by
    keyword), and the UIDs replaced, which the sweep replaces wherever else they appear."""

    FILE_META_REMOVED = ("SourceApplicationEntityTitle", "SendingApplicationEntityTitle",
                         "ReceivingApplicationEntityTitle", "PrivateInformationCreatorUID", "PrivateInformation")

    def __init__(self, actions: dict[tuple[int, ...], str]) -> None:
        self.exact = {tag: letters for tag, letters in actions.items() if len(tag) == 2}
        self.masked = [(tag, letters) for tag, letters in actions.items() if len(tag) == 4]
        self.removed: Counter[str] = Counter()
        self.replaced: Counter[str] = Counter()
        self.old_uids: set[str] = set()

    def apply_table(self, ds) -> None:
        """Each attribute of `ds` the table names gets the allowed action that keeps the
        object valid (private ones are all removed afterwards)."""
        for element in list(ds):
            letters = None if element.tag.is_private else _action_for(element.tag, self.exact, self.masked)
            if letters is None:
                continue
            if "U" in letters and element.VR == "UI":
                self._replace_uid(element)
            elif element.VR == "SQ":
                self._sequence(ds, element, letters)
            elif "D" in letters and (element.VR in DATE_TIME_VRS or element.keyword in REQUIRED
                                     or "Z" not in letters) and _dummy(element) is not None:
                self._set(element, _dummy(element), self.replaced)
            elif "Z" in letters or "D" in letters:
                empty = None if element.VR not in TEXT_VRS | {"PN"} | DATE_TIME_VRS else ""
                self._set(element, empty, self.removed)
            else:
                if not element.is_empty:
                    self.removed[_name(element)] += 1
                del ds[element.tag]

    def _replace_uid(self, element) -> None:
        if element.value:
            self.old_uids.update(str(v) for v in (element.value if element.VM > 1 else [element.value]))
            _replace_uids(element)
            self.replaced[_name(element)] += 1

    def _sequence(self, ds, element, letters: str) -> None:
        """Emptied or removed as the profile says; a kept one (U: references to other
        instances) is cleaned item by item."""
        if "U" in letters:
            return
        if element.value:
            self.removed[_name(element)] += 1
        if "Z" in letters or "D" in letters:
            element.value = []
        else:
            del ds[element.tag]

    @staticmethod
    def _set(element, value: Any, counts: Counter[str]) -> None:
        if not element.is_empty:
            element.value = value
            counts[_name(element)] += 1

    def sweep(self, ds) -> None:
        """What no table entry caught: dates, times, names, repeated UIDs, at any depth."""
        for element in list(ds):
            if element.is_empty or element.VR == "SQ":
                continue
            if element.VR in DATE_TIME_VRS and element.value != _dummy(element):
                self._set(element, _dummy(element), self.replaced)
            elif element.VR == "PN":
                self._set(element, "", self.removed)
            elif element.VR == "UI":
                values = [str(v) for v in (element.value if element.VM > 1 else [element.value])]
                if any(v in self.old_uids for v in values):
                    element.value = [new_uid(v) if v in self.old_uids else v for v in values] \
                        if element.VM > 1 else new_uid(values[0])
                    self.replaced[_name(element)] += 1

    def clean_meta(self, meta) -> None:
        """The file meta: its instance UID as the dataset's became, application entities and
        private information removed."""
        if meta is None:
            return
        if meta.get("MediaStorageSOPInstanceUID") in self.old_uids:
            meta.MediaStorageSOPInstanceUID = new_uid(str(meta.MediaStorageSOPInstanceUID))
        for keyword in self.FILE_META_REMOVED:
            if keyword in meta:
                del meta[keyword]
                self.removed[keyword] += 1


def _name(element) -> str:
    from pydicom.datadict import keyword_for_tag

    return element.keyword or keyword_for_tag(element.tag) or str(element.tag)


def _mark(dataset) -> None:
    """Patient Identity Removed, De-identification Method and its code, as the profile asks."""
    from pydicom.dataset import Dataset

    dataset.PatientIdentityRemoved = "YES"
    dataset.DeidentificationMethod = "DICOM PS3.15 E.1 Basic Profile, octsr"
    method = Dataset()
    method.CodeValue, method.CodingSchemeDesignator = "113100", "DCM"
    method.CodeMeaning = "Basic Application Confidentiality Profile"
    dataset.DeidentificationMethodCodeSequence = [method]


def _listed(counts: Counter[str]) -> str:
    return ", ".join(k if n == 1 else f"{k} (x{n})" for k, n in sorted(counts.items())) or "nothing"
