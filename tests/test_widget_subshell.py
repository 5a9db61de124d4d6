"""Notebook 01's camera/light panel driven the way JupyterLab 4.6 drives it: widget comm messages on an
ipykernel subshell thread ("commsOverSubshells", on by default). Before the render owner thread
(igan_lite/render/thread.py) the second move killed the kernel (Filament's PreconditionPanic)."""
import hashlib
import os
import queue
import time
from pathlib import Path

import nbformat
import pytest
from jupyter_client import KernelManager

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "01_dataset.ipynb"
TIMEOUT = 300


def _wait_reply(channel, msg_id, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    while True:
        msg = channel.get_msg(timeout=max(deadline - time.monotonic(), 0.1))
        if msg["parent_header"].get("msg_id") == msg_id:
            return msg


def _outputs_until_idle(kc, msg_id, timeout=TIMEOUT):
    """IOPub messages whose parent is msg_id, up to its 'idle' status; fails at once if the kernel dies."""
    got, deadline = [], time.monotonic() + timeout
    while True:
        try:
            msg = kc.get_iopub_msg(timeout=1)
        except queue.Empty:
            assert kc.is_alive(), "the kernel died"
            assert time.monotonic() < deadline, f"no reply in {timeout} s"
            continue
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return got
        got.append(msg)


def _run(kc, code):
    msg_id = kc.execute(code)
    outputs = _outputs_until_idle(kc, msg_id)
    reply = _wait_reply(kc.shell_channel, msg_id)
    errors = [m["content"] for m in outputs if m["msg_type"] == "error"]
    assert reply["content"]["status"] == "ok", errors or reply["content"]
    return outputs


def _panel_cells():
    """Notebook 01's code cells up to and including the one that shows the panel."""
    cells = [c.source for c in nbformat.read(NOTEBOOK, as_version=4).cells if c.cell_type == "code"]
    last = next(i for i, s in enumerate(cells) if "render_panel" in s)
    return cells[: last + 1]


def _controls(opened):
    """description -> (comm id, state) of the panel's controls, from the comm_open messages of the panel cell."""
    states = {m["content"]["comm_id"]: m["content"]["data"]["state"] for m in opened if m["msg_type"] == "comm_open"}
    return {s["description"]: (cid, s) for cid, s in states.items() if s.get("description")}


def _move(kc, subshell_id, control, value):
    """Send one widget state change on the subshell; return digests of the pictures the panel was sent."""
    comm_id, state = control
    # a dropdown's frontend sends the index of the chosen label
    change = {"index": state["_options_labels"].index(value)} if "_options_labels" in state else {"value": value}
    msg = kc.session.msg("comm_msg", {"comm_id": comm_id, "data": {"method": "update", "state": change,
                                                                    "buffer_paths": []}})
    msg["header"]["subshell_id"] = subshell_id
    kc.shell_channel.send(msg)
    outputs = _outputs_until_idle(kc, msg["header"]["msg_id"])
    assert not [m for m in outputs if m["msg_type"] == "error"], outputs
    # the Image widget's new value travels as a binary buffer of a comm_msg
    return [hashlib.sha1(m["buffers"][0]).hexdigest() for m in outputs
            if m["msg_type"] == "comm_msg" and ["value"] in m["content"]["data"].get("buffer_paths", [])]


@pytest.fixture
def kernel():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           "IGAN_PRESET": "smoke", "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    km = KernelManager(kernel_name="python3")
    km.start_kernel(cwd=str(NOTEBOOK.parent), env=env)
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=120)
    yield km, kc
    kc.stop_channels()
    km.shutdown_kernel(now=True)


def test_panel_moved_from_a_subshell_redraws_and_the_kernel_lives(kernel):
    km, kc = kernel
    opened = []
    for source in _panel_cells():
        opened = _run(kc, source)
    controls = _controls(opened)
    assert {"shape", "azimuth", "elevation", "sun", "ambient"} <= set(controls), controls

    request = kc.session.msg("create_subshell_request", {})
    kc.control_channel.send(request)
    subshell_id = _wait_reply(kc.control_channel, request["header"]["msg_id"])["content"]["subshell_id"]

    moves = [("azimuth", 60.0), ("azimuth", 120.0), ("elevation", 45.0), ("sun", 30000.0), ("shape", "table"),
             ("ambient", 3000.0), ("azimuth", 200.0)]
    digests = []
    for name, value in moves:
        shown = _move(kc, subshell_id, controls[name], value)
        assert km.is_alive(), f"the kernel died after moving {name} to {value}"
        assert len(shown) == 1, f"moving {name} to {value} displayed {len(shown)} images"
        digests.append(shown[0])
    assert len(set(digests)) == len(moves), "some move did not change the image"
    assert _run(kc, "print('alive')")  # the main shell still answers
