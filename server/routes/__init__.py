"""The API's routers, one per area: ``models`` (health, models, rigs), ``jobs`` (animation) and ``renders``."""

NPZ = "application/x-npz"
MP4 = "video/mp4"
