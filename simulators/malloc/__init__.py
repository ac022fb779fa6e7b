"""Memory mapping (mallocGame): which tensor buffers live in fast on-chip memory, and where.

Instances (:mod:`.instances`) come from DNN layer graphs (:mod:`.graphs`,
:mod:`.generator`), MiniMalloc CSV files (:mod:`.minimalloc`) or traced
PyTorch models (:mod:`.torch_trace`); :mod:`.generator` also makes zero-slack
allocation instances. :mod:`.cost` scores a placement with a roofline time
model and :mod:`.placement` checks legality. Methods: the greedy allocators
(:mod:`.heuristics`), the exact MILP and brute force (:mod:`.exact`), the
compiled canonical search (:mod:`.canonical`, MiniMalloc's method) and the
branch-and-bound allocator (:mod:`.branch_and_bound`), all behind
:func:`.solve.solve`. The game itself is :class:`archgym.simulators.malloc.env.MallocGameEnv`.
"""
