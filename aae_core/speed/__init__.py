"""What only makes a step faster, never changes what it computes.

The trainer reaches this package through one seam: `fastest_updater` builds, for a run's
precision and device, the object that turns each phase's loss into an update (see
`aae_core.train.PlainUpdater` for the plain one). Each faster path is tested equal to the plain one.

    updaters.py      the seam: the factory and the faster updaters, and the optimizer-kernel choice
    in_backward.py   fused SGD steps inside the backward pass, weight by weight
    weight_copies.py bf16 copies of the weights, updated in one compiled pass
    cuda_graphs.py   the whole step recorded once as a CUDA graph and replayed
    bench.py         `python -m aae_core bench`: the step against the machine's matrix-multiply rate
    stacked.py       R runs trained as one stack in one process (batched products; one CUDA graph on a GPU)
    budget.py        long runs sized to a GPU's time budget from the stacked step's measured time
"""
