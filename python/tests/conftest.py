"""Shared fixtures: small configs and the repository root."""

import os
import pathlib

import pytest

REPO = pathlib.Path(os.environ.get("EMBRT_SOURCE_DIR", pathlib.Path(__file__).parents[2]))

SMALL_CONFIG = """
tables { name: "video" vocabulary_size: 10 dim: 4 combiner: SUM
         initializer { constant { value: 0.5 } } }
tables { name: "user" vocabulary_size: 20 dim: 2 combiner: MEAN
         initializer { constant { value: 1.0 } } }
features { name: "watched" table: "video" }
features { name: "favorited" table: "video" }
features { name: "friends" table: "user" }
optimizer { sgd {} learning_rate { constant: 0.1 } }
backend { name: "cpu" }
per_replica_batch_size: 2
"""


@pytest.fixture
def small_config():
    return SMALL_CONFIG


@pytest.fixture
def repo():
    return REPO
