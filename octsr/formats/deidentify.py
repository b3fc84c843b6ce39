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
    from pydicom.datadict import keyword_for_tag
    from pydicom.dataset import Dataset

    actions = _actions()
    exact = {tag: letters for tag, letters in actions.items() if len(tag) == 2}
    masked = [(tag, letters) for tag, letters in actions.items() if len(tag) == 4]
    kept = {keyword: dataset[keyword].value for keyword in keep if keyword in dataset}
    removed: Counter[str] = Counter()
    replaced: Counter[str] = Counter()
    old_uids: set[str] = set()

    def name(element) -> str:
        return element.keyword or keyword_for_tag(element.tag) or str(element.tag)

    def apply_table(ds) -> None:
        for element in list(ds):
            if element.tag.is_private:
                continue  # all removed below
            letters = _action_for(element.tag, exact, masked)
            if letters is None:
                continue
            if "U" in letters and element.VR == "UI":
                if element.value:
                    old_uids.update(str(v) for v in (element.value if element.VM > 1 else [element.value]))
                    _replace_uids(element)
                    replaced[name(element)] += 1
            elif element.VR == "SQ":
                # Emptied or removed as the profile says; a kept one (U: references to other
                # instances) is cleaned item by item.
                if "U" in letters:
                    continue
                if element.value:
                    removed[name(element)] += 1
                if "Z" in letters or "D" in letters:
                    element.value = []
                else:
                    del ds[element.tag]
            elif "D" in letters and (element.VR in DATE_TIME_VRS or element.keyword in REQUIRED
                                     or "Z" not in letters) and _dummy(element) is not None:
                if not element.is_empty:
                    element.value = _dummy(element)
                    replaced[name(element)] += 1
            elif "Z" in letters or "D" in letters:
                if not element.is_empty:
                    element.value = None if element.VR not in TEXT_VRS | {"PN"} | DATE_TIME_VRS else ""
                    removed[name(element)] += 1
            else:
                if not element.is_empty:
                    removed[name(element)] += 1
                del ds[element.tag]

    def clean(ds, step) -> None:
        """`step` on `ds`, then on every item of every sequence left in it, at any depth."""
        step(ds)
        for element in list(ds):
            if element.VR == "SQ" and element.value:
                for item in element.value:
                    clean(item, step)

    def sweep(ds) -> None:
        """What no table entry caught: dates, times, names, repeated UIDs, at any depth."""
        for element in list(ds):
            if element.is_empty or element.VR == "SQ":
                continue
            if element.VR in DATE_TIME_VRS and element.value != _dummy(element):
                element.value = _dummy(element)
                replaced[name(element)] += 1
            elif element.VR == "PN":
                element.value = ""
                removed[name(element)] += 1
            elif element.VR == "UI":
                values = [str(v) for v in (element.value if element.VM > 1 else [element.value])]
                if any(v in old_uids for v in values):
                    element.value = [new_uid(v) if v in old_uids else v for v in values] \
                        if element.VM > 1 else new_uid(values[0])
                    replaced[name(element)] += 1

    meta = getattr(dataset, "file_meta", None)
    clean(dataset, apply_table)
    private = sum(1 for ds in _datasets(dataset) for element in ds if element.tag.is_private)
    dataset.remove_private_tags()  # pydicom walks every depth
    clean(dataset, sweep)
    if meta is not None:
        if meta.get("MediaStorageSOPInstanceUID") in old_uids:
            meta.MediaStorageSOPInstanceUID = new_uid(str(meta.MediaStorageSOPInstanceUID))
        for keyword in ("SourceApplicationEntityTitle", "SendingApplicationEntityTitle",
                        "ReceivingApplicationEntityTitle", "PrivateInformationCreatorUID", "PrivateInformation"):
            if keyword in meta:
                del meta[keyword]
                removed[keyword] += 1
    for keyword, value in kept.items():
        setattr(dataset, keyword, value)
        removed.pop(keyword, None)
        replaced.pop(keyword, None)
    dataset.PatientIdentityRemoved = "YES"
    dataset.DeidentificationMethod = "DICOM PS3.15 E.1 Basic Profile, octsr"
    method = Dataset()
    method.CodeValue, method.CodingSchemeDesignator = "113100", "DCM"
    method.CodeMeaning = "Basic Application Confidentiality Profile"
    dataset.DeidentificationMethodCodeSequence = [method]

    def listed(counts: Counter[str]) -> str:
        return ", ".join(k if n == 1 else f"{k} (x{n})" for k, n in sorted(counts.items())) or "nothing"

    notes = [f"removed {listed(removed)}", f"replaced {listed(replaced)}"]
    if private:
        notes.append(f"removed {private} private attribute(s)")
    return notes
