"""``free_port``: a port a process of its own can listen on, not handed to anyone else meanwhile."""

from __future__ import annotations

import socket

import pytest

import httpserve


def test_a_free_port_is_free_and_outside_the_kernels_ephemeral_range() -> None:
    ports = {httpserve.free_port() for _ in range(20)}
    assert all(1024 <= port < httpserve._ephemeral_low() for port in ports)
    assert len(ports) > 1  # drawn, not one fixed port
    for port in ports:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))  # nobody holds it


def test_a_port_in_use_is_drawn_again(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", httpserve.free_port()))
        taken.listen()
        draws = iter([taken.getsockname()[1], httpserve.free_port()])
        monkeypatch.setattr(httpserve._random, "choice", lambda _ports: next(draws))
        port = httpserve.free_port()
        assert port != taken.getsockname()[1]


def test_without_room_below_the_range_the_kernel_chooses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(httpserve, "_ephemeral_low", lambda: 1500)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", httpserve.free_port()))
