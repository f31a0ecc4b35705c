"""Training runs as the command line does them: a config in, a run folder out.

``run_training(config)`` builds the data, model, optimizer and schedule from a plain dict
(what ``ournn train`` parses from flags or a TOML file), trains with ``fit`` and leaves in
``config["out"]``: ``config.json``, ``last.ckpt``/``best.ckpt``, ``metrics.csv``,
``history.json``, ``summary.txt`` and ``results.json`` (plus plots when matplotlib is there).

The pieces live in files named for their jobs; this module gathers their names (the
command line, the tuner and older code import them from here):

- ``ournn.train.options``: the named choices (datasets, augmentations, schedules, optimizers)
  and how each is built;
- ``ournn.train.settings``: what each setting accepts, ``check_config``;
- ``ournn.train.recipe``: ``build_run`` (the one recipe) and ``run_training``;
- ``ournn.train.checkpoints``: ``load_model`` and what a checkpoint says beside the model.
"""
from .checkpoints import (IMAGE_INPUT, META_KEYS, expected_data, load_model,  # noqa: F401
                          require_images)
from .options import (AUGMENTS, DATASET_ALIASES, DATASETS, OPTIMIZERS,  # noqa: F401
                      SCHEDULES, make_augmentation, make_loss, schedule_callbacks)
from .recipe import (RESUME_FREE, RESUME_OVERRIDABLE, Run, build_run,  # noqa: F401
                     build_zoo_model, load_dataset, run_training)
from .settings import (DEFAULTS, SETTINGS, Setting, SettingError,  # noqa: F401
                       check_config, check_data_sizes)
