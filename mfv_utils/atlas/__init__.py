"""A multifaceted atlas: the facets of every unit of a layer, as Dask tasks, into a content-keyed store.

``python -m mfv_utils.atlas`` (:mod:`.__main__`) runs it; :mod:`.tasks` is one unit (a pure task),
:mod:`.engine` runs the asked units on a cluster (:mod:`.cluster`) into the store (:mod:`.store`),
and :mod:`.site` writes the store's static site. The names of all but the site are re-exported here.
"""
from .tasks import (STORE_VERSION, THUMB, MEMBER, MEMBERS_SHOWN, Spec, context, pool_ref, worker_context,
                    unit_key, one_thread, quiet_steps, render_unit)
from .store import (atomic_write, write_unit, unit_files, check_unit, stored_key, read_manifest)
from .cluster import (WORKER_CONFIG, CONNECT_TIMEOUT, kept_environ, local_cluster, connect)
from .engine import (parse_units, run, run_device)
__all__ = ["STORE_VERSION", "THUMB", "MEMBER", "MEMBERS_SHOWN", "Spec", "context", "pool_ref",
           "worker_context", "unit_key", "one_thread", "quiet_steps", "render_unit", "atomic_write",
           "write_unit", "unit_files", "check_unit", "stored_key", "read_manifest", "WORKER_CONFIG",
           "CONNECT_TIMEOUT", "kept_environ", "local_cluster", "connect", "parse_units", "run", "run_device"]
