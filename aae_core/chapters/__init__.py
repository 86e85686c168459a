"""What only the book's chapters need, by subject; the method itself is the package's top level.

    tables.py        markdown tables of presets, epochs and layers, and the formatting all tables share
    reproduction.py  the final table, Table 3 and the preset comparisons, read from run folders (chapter 3, appendices A and B)
    curves.py        training curves: time to an accuracy, learning-rate drops, drift between runs
    precision.py     fp32 against bf16, seed by seed (appendix C, engineering notes)
    bench_tables.py  the stored benches, read and tabulated for appendix C, and the speed targets
    quoted.py        the numbers the book quotes from others, each with its source
    plots.py         the figures: functions that return a matplotlib Figure
    generate.py      digits drawn by the decoder (fixed y, style grids, style transfer)
    judge.py         the independent CNN that reads generated digits, and what it measures
    explorers.py     the style explorer, for Jupyter (ipywidgets) and for the HTML book, and the draw pad
    drawing.py       a drawing made into an MNIST digit (the draw pad's steps), and the test digits it loads
    export.py        the encoder's and the decoder's weights for the browser
    browser_training.py  the 14x14 digits and the torch reference of the AAE that trains in the page
    demo.py          chapter 1's demo: an autoencoder, a VAE and an AAE with 2-D codes (what the chapter
                     reads, and where the codes lie); its parts beside it, one subject each:
    demo_vae.py      the VAE and its training loop
    demo_training.py the shared settings, the three runners, codes and decodings of a trained model
    demo_runs.py     the demo's own run-folder format, trained or read back
    demo_figures.py  the demo's figures
    latent_map.py    chapter 1's latent map: the demo's codes and decoders for the browser
    parameters.py    the chapters' papermill parameters, checked before a chapter computes anything
    commands.py      the command line's book commands (classifier, agreement, export-decoder, demo-2d)
"""
