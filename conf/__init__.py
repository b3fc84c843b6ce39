"""The Hydra configs, shipped inside the package as `octsr.conf` (see pyproject.toml), so an
installed wheel finds them; the entry points load them as `pkg://octsr.conf`."""

from pathlib import Path

# conf/ in a checkout, octsr/conf/ in an installed wheel
CONF_DIR = Path(__file__).parent
