"""schemathesis over the whole contract, in-process (WSGI), with zero failures allowed.

Every operation gets generated requests, valid and invalid; every response must be
documented, of the documented content type and schema, and never a server error. A second
pass puts the input shapes that once crashed the service into the generated requests. The
requests carry ``auth_headers``: empty for now, so authenticated operations are checked on
their refusal path; give that fixture a credential (or parametrize it by role) to take the
fuzzing past authentication.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypeAlias

import hypothesis
import pytest
import schemathesis
from flask import Flask
from sqlalchemy import Engine

from api.app import create_app
from api.contract import CONTRACT_PATH
from core.clock import FrozenClock
from core.crypto import KeyRing, SecretHasher
from core.db import make_session_factory
from core.runtime import build_runtime
from tests.conftest import make_settings
from tests.fuzzing import FUZZ_DEPTH, fuzz_examples, send_a_shape

# A generated request, for whichever operation of the contract.
Case: TypeAlias = schemathesis.Case[Any]

# Bounded so that the suite stays fast on a small machine; raise locally to dig deeper. The
# depth (quick for ``make test``, deep for CI) scales both: tests/fuzzing.py.
MAX_EXAMPLES = fuzz_examples(25)
SHAPE_EXAMPLES = fuzz_examples(8)

# The committed contract, which test_openapi.py proves equal to what the app serves. Loading it
# at collection gives one test per operation without building an app at import time.
schema = schemathesis.openapi.from_path(
    str(CONTRACT_PATH),
    config=schemathesis.Config.from_dict(
        {
            "checks": {
                # Schema-valid data may still break a business rule (a PIN too easy to guess);
                # that is a 422 by design. A 400 or 415 for schema-valid data still fails.
                "positive_data_acceptance": {
                    "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "422", "429"]
                }
            },
            # The coverage phase's boundary cases are built at collection, for every operation
            # (half the quick run's collection time): CI's deep run has them.
            "phases": {"coverage": {"enabled": FUZZ_DEPTH == "deep"}},
        }
    ),
)


@pytest.fixture(scope="module")
def fuzz_app(
    engine: Engine,
    database_url: str,
    keyring: KeyRing,
    fast_hasher: SecretHasher,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Flask]:
    """The ``app`` fixture's twin, built once for all operations (building one per operation
    doubles the run time); everything it writes is rolled back at the end."""
    connection = engine.connect()
    outer = connection.begin()
    settings = make_settings(tmp_path_factory.mktemp("fuzz"), database_url, keyring)
    runtime = build_runtime(
        settings,
        clock=FrozenClock(),
        engine=engine,
        session_factory=make_session_factory(connection, join_transaction_mode="create_savepoint"),
        keyring=keyring,
        hasher=fast_hasher,
    )
    yield create_app(settings, runtime=runtime)
    outer.rollback()
    connection.close()


@pytest.fixture
def auth_headers() -> dict[str, str]:
    """Credentials sent with every generated request (none yet).

    To fuzz past authentication, depend on ``fuzz_app``, create a principal through its
    runtime's session factory, and return ``{"Authorization": "Bearer ..."}`` (parametrize by
    role to cover staff, survivor and partner operations).
    """
    return {}


@schema.parametrize()
@hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(hypothesis.HealthCheck),
    derandomize=True,
)
def test_contract(case: Case, fuzz_app: Flask, auth_headers: dict[str, str]) -> None:
    case.call_and_validate(app=fuzz_app, headers=auth_headers)


@schema.parametrize()
@hypothesis.settings(
    max_examples=SHAPE_EXAMPLES,
    deadline=None,
    suppress_health_check=list(hypothesis.HealthCheck),
    derandomize=True,
)
def test_contract_refuses_crashing_input(
    case: Case, fuzz_app: Flask, auth_headers: dict[str, str]
) -> None:
    """Each generated case, with one input shape that once crashed the service put in one of
    its fields (tests/input_shapes.py): a 4xx problem, never a server error."""
    failure = send_a_shape(case, app=fuzz_app, headers=auth_headers)
    assert failure is None, failure
