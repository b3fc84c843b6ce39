"""Errors a user can fix: each message names the file, folder or config key at fault."""


class OctsrError(Exception):
    """Base class: caught by the entry points and printed as one line, without a traceback."""


class DataError(OctsrError):
    """A data file or folder is missing, unreadable, or does not fit the layout."""


class WriteError(OctsrError, OSError):
    """The file system refused a write (full disk, read-only or vanished folder, permissions);
    nothing truncated was left under the file's name."""


class ConfigError(OctsrError):
    """A config value cannot work (the message names the key to change)."""


class TrainingDiverged(OctsrError):
    """The loss, a metric or the weights became NaN or infinite; nothing was saved from them."""


class RunFailed(OctsrError):
    """A run octsr started for the user (a cross-validation fold) failed; the message names
    its log and the run's own one-line reason."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C: the message says what was finished; the entry points print it in one line and
    exit 130, as a shell expects of a program stopped by SIGINT."""
