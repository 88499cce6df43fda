#!/usr/bin/env python3
"""Builds the PyTorch test files of src/core/formats/pytorch/testdata without PyTorch.

    python3 make_testdata.py                 # (re)writes every file here and expected.json
    python3 make_testdata.py --check X.pt    # checks a file PruneScope wrote (see check())
    python3 make_testdata.py --fixtures DIR  # writes fixtures-expected.json from ../shared/fixtures/pytorch

Needs only the standard library and numpy. How the files imitate torch.save exactly: fake modules
named `torch` and `torch._utils` are registered in sys.modules, holding classes and functions whose
__module__/__qualname__ are those of PyTorch's (torch.FloatStorage, torch._utils._rebuild_tensor_v2,
torch.device ...). Python's own pickler then writes GLOBAL opcodes with PyTorch's names, and a
fake tensor reduces exactly as torch.Tensor.__reduce_ex__ does: (_rebuild_tensor_v2, (storage,
offset, size, stride, requires_grad, OrderedDict())), its storage pickled by persistent id
('storage', torch.FloatStorage, key, location, numel). The containers follow torch/serialization.py:
`_save` (zip: <folder>/data.pkl, .format_version, .storage_alignment, byteorder, data/<key>,
version; stored, data 64-byte aligned by an "FB" extra field as PyTorchStreamWriter pads) and
`_legacy_save` (magic number, protocol version 1001, sys info, the pickle, the sorted storage
keys, then per storage an 8-byte little-endian count and the little-endian data).
The fake functions are never called: nothing here unpickles a file except check(), which maps
the names to inert stand-ins. The malicious files are written, never loaded.

expected.json holds, per file, inputs and the outputs numpy computes from the raw parameters
(BatchNorm applied unfolded), so the TypeScript tests need no Python.
"""
import collections
import io
import json
import os
import pickle
import pickletools
import struct
import sys
import types
import zipfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001

# ---- fake torch modules, so that pickle names things as torch does ----

torch = types.ModuleType("torch")
torch_utils = types.ModuleType("torch._utils")
torch._utils = torch_utils
sys.modules["torch"] = torch
sys.modules["torch._utils"] = torch_utils


def _never(*_args):
    raise RuntimeError("a fake torch function was called")


for _fn in ("_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_parameter"):
    _f = types.FunctionType(_never.__code__, {}, _fn)
    _f.__module__ = "torch._utils"
    _f.__qualname__ = _fn
    setattr(torch_utils, _fn, _f)

STORAGE_DTYPES = {  # storage class -> numpy dtype (bfloat16 handled apart)
    "FloatStorage": "f4",
    "DoubleStorage": "f8",
    "HalfStorage": "f2",
    "BFloat16Storage": "bf16",
    "LongStorage": "i8",
}
for _name in STORAGE_DTYPES:
    setattr(torch, _name, type(_name, (), {"__module__": "torch", "__qualname__": _name}))


class device:  # torch.device
    def __init__(self, kind, index=None):
        self.args = (kind,) if index is None else (kind, index)

    def __reduce__(self):
        return (torch.device, self.args)


device.__module__ = "torch"
torch.device = device

# torch.nn.modules.linear.Linear, for a model pickled whole
for _m in ("torch.nn", "torch.nn.modules", "torch.nn.modules.linear"):
    sys.modules[_m] = types.ModuleType(_m)
Linear = type("Linear", (), {"__module__": "torch.nn.modules.linear", "__qualname__": "Linear"})
sys.modules["torch.nn.modules.linear"].Linear = Linear


class Storage:
    """A storage: its class (torch.FloatStorage ...), key, location and values."""

    def __init__(self, kind, key, values, location="cpu"):
        self.kind = getattr(torch, kind)
        self.kind_name = kind
        self.key = key
        self.location = location
        self.values = np.asarray(values)
        self.numel = int(self.values.size)

    def data(self, byteorder="little"):
        e = "<" if byteorder == "little" else ">"
        dt = STORAGE_DTYPES[self.kind_name]
        if dt == "bf16":
            bits = (np.asarray(self.values, dtype="<f4").view("<u4") >> 16).astype(e + "u2")
            return bits.tobytes()
        return np.asarray(self.values, dtype=e + dt).tobytes()


class Tensor:
    """Reduces as torch.Tensor does (v2), or as the oldest torch did (_rebuild_tensor, v1=True)."""

    def __init__(self, storage, offset, size, stride, v1=False):
        self.storage, self.offset, self.size, self.stride, self.v1 = storage, offset, tuple(size), tuple(stride), v1

    def __reduce_ex__(self, _proto):
        if self.v1:
            return (torch_utils._rebuild_tensor, (self.storage, self.offset, self.size, self.stride))
        return (torch_utils._rebuild_tensor_v2, (self.storage, self.offset, self.size, self.stride, False, collections.OrderedDict()))


def contiguous(storage, offset, shape):
    stride = tuple(int(np.prod(shape[i + 1 :])) for i in range(len(shape)))
    return Tensor(storage, offset, shape, stride)


# ---- containers ----


class ZipPickler(pickle.Pickler):
    def __init__(self, f):
        super().__init__(f, protocol=2)
        self.storages = {}

    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            self.storages[obj.key] = obj
            return ("storage", obj.kind, obj.key, obj.location, obj.numel)
        return None


class LegacyPickler(pickle.Pickler):
    def __init__(self, f):
        super().__init__(f, protocol=2)
        self.storages = {}

    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            self.storages[obj.key] = obj
            return ("storage", obj.kind, obj.key, obj.location, obj.numel, None)
        if isinstance(obj, StorageView):
            self.storages[obj.root.key] = obj.root
            return ("storage", obj.root.kind, obj.root.key, obj.root.location, obj.root.numel, (obj.key, obj.offset, obj.numel))
        return None


class StorageView:
    """A legacy storage view: `numel` elements of `root` from `offset`, known by its own key."""

    def __init__(self, root, key, offset, numel):
        self.root, self.key, self.offset, self.numel = root, key, offset, numel


def write_zip(path, folder, records):
    """Stored records, each one's data 64-byte aligned by an "FB" extra field of 'Z's (PyTorchStreamWriter)."""
    with open(path, "wb") as f, zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as z:
        for name, data in records:
            full = f"{folder}/{name}"
            start = f.tell() + 30 + len(full.encode()) + 4
            pad = (-start) % 64
            info = zipfile.ZipInfo(full, date_time=(1980, 1, 1, 0, 0, 0))
            info.extra = b"FB" + struct.pack("<H", pad) + b"Z" * pad
            z.writestr(info, data)


def zip_save(obj, name, folder="archive", byteorder="little", pickle_bytes=None):
    buf = io.BytesIO()
    p = ZipPickler(buf)
    if pickle_bytes is None:
        p.dump(obj)
        pickle_bytes = buf.getvalue()
    records = [("data.pkl", pickle_bytes), (".format_version", b"1"), (".storage_alignment", b"64"), ("byteorder", byteorder.encode())]
    records += [(f"data/{k}", s.data(byteorder)) for k, s in p.storages.items()]
    records.append(("version", b"3\n"))
    write_zip(os.path.join(HERE, name), folder, records)


def legacy_save(obj, name, little_endian=True):
    buf = io.BytesIO()
    pickle.dump(MAGIC_NUMBER, buf, protocol=2)
    pickle.dump(PROTOCOL_VERSION, buf, protocol=2)
    sys_info = dict(protocol_version=PROTOCOL_VERSION, little_endian=little_endian, type_sizes=dict(short=2, int=4, long=8))
    pickle.dump(sys_info, buf, protocol=2)
    p = LegacyPickler(buf)
    p.dump(obj)
    keys = sorted(p.storages)
    pickle.dump(keys, buf, protocol=2)
    for k in keys:
        s = p.storages[k]
        buf.write(struct.pack("<q", s.numel))
        buf.write(s.data("little"))  # torch writes storages little endian whatever the machine
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(buf.getvalue())


# ---- models and their expected outputs ----

rng = np.random.default_rng(20240611)
EXPECTED = {}


def rand(*shape, scale=0.5):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def as_f16(a):
    return a.astype(np.float16).astype(np.float32)


def as_bf16(a):
    return (np.asarray(a, np.float32).view(np.uint32) & 0xFFFF0000).view(np.float32)


def act(name, x):
    return {"relu": lambda v: np.maximum(v, 0), "tanh": np.tanh, "linear": lambda v: v}[name](x)


def batchnorm(x, bn):
    return (x - bn["mean"]) / np.sqrt(bn["var"] + 1e-5) * bn.get("gamma", 1.0) + bn.get("beta", 0.0)


def expect(name, layers, n_in, names, hidden="relu", last="linear", input_bn=None, notes=()):
    """layers: [(W [out, in], b or None, bn dict or None)], in float64; records inputs and numpy's outputs."""
    x = rng.standard_normal((4, n_in))
    h = batchnorm(x, input_bn) if input_bn else x
    for i, (w, b, bn) in enumerate(layers):
        h = h @ np.asarray(w, np.float64).T + (0 if b is None else np.asarray(b, np.float64))
        if bn:
            h = batchnorm(h, bn)
        h = act(last if i == len(layers) - 1 else hidden, h)
    EXPECTED[name] = {"inputs": x.tolist(), "outputs": h.tolist(), "names": names, "activation": hidden, "outputActivation": last, "notes": list(notes)}


def mlp_state(prefixes, sizes, kind="FloatStorage", location="cpu", cast=lambda a: a):
    """A plain state dict: one storage per tensor, keys '<prefix>.weight' / '<prefix>.bias'."""
    sd = collections.OrderedDict()
    layers = []
    for i, p in enumerate(prefixes):
        w, b = cast(rand(sizes[i + 1], sizes[i])), cast(rand(sizes[i + 1]))
        sd[f"{p}.weight"] = contiguous(Storage(kind, str(2 * i), w.ravel(), location), 0, w.shape)
        sd[f"{p}.bias"] = contiguous(Storage(kind, str(2 * i + 1), b, location), 0, b.shape)
        layers.append((w, b, None))
    return sd, layers


def metadata(sd, modules):
    sd._metadata = collections.OrderedDict((m, {"version": 1}) for m in modules)
    return sd


def make_legacy():
    # fc1: the oldest _rebuild_tensor, weight and bias at two offsets of one storage; fc2: _rebuild_tensor_v2
    # on a legacy storage view (view_metadata); saved on cuda:0.
    w1, b1, w2, b2 = rand(5, 3), rand(5), rand(2, 5), rand(2)
    s1 = Storage("FloatStorage", "94000001", np.concatenate([w1.ravel(), b1]), "cuda:0")
    s2 = Storage("FloatStorage", "94000002", np.concatenate([rand(7), w2.ravel(), b2, rand(3)]), "cuda:0")
    v_w2 = StorageView(s2, "94000003", 7, 10)
    v_b2 = StorageView(s2, "94000004", 17, 2)
    sd = collections.OrderedDict()
    sd["fc1.weight"] = Tensor(s1, 0, (5, 3), (3, 1), v1=True)
    sd["fc1.bias"] = Tensor(s1, 15, (5,), (1,), v1=True)
    sd["fc2.weight"] = Tensor(v_w2, 0, (2, 5), (5, 1))
    sd["fc2.bias"] = Tensor(v_b2, 0, (2,), (1,))
    legacy_save(sd, "legacy.pth")
    expect("legacy.pth", [(w1, b1, None), (w2, b2, None)], 3, ["fc1", "fc2"], notes=["cuda:0"])
    # sys info says big endian: torch wrote the data little endian all the same
    sd2, layers = mlp_state(["0", "2"], [3, 4, 2])
    legacy_save(sd2, "legacy-sysinfo-big.pt", little_endian=False)
    expect("legacy-sysinfo-big.pt", layers, 3, ["0", "2"], hidden="tanh", notes=["big-endian machine"])


def bn_params(n, affine=True):
    bn = {"mean": rand(n), "var": (rng.random(n) + 0.5).astype(np.float32)}
    if affine:
        bn["gamma"], bn["beta"] = rand(n) + 1, rand(n)
    return bn


def add_bn(sd, prefix, bn, key0):
    if "gamma" in bn:
        sd[f"{prefix}.weight"] = contiguous(Storage("FloatStorage", f"{key0}", bn["gamma"]), 0, bn["gamma"].shape)
        sd[f"{prefix}.bias"] = contiguous(Storage("FloatStorage", f"{key0 + 1}", bn["beta"]), 0, bn["beta"].shape)
    sd[f"{prefix}.running_mean"] = contiguous(Storage("FloatStorage", f"{key0 + 2}", bn["mean"]), 0, bn["mean"].shape)
    sd[f"{prefix}.running_var"] = contiguous(Storage("FloatStorage", f"{key0 + 3}", bn["var"]), 0, bn["var"].shape)
    sd[f"{prefix}.num_batches_tracked"] = Tensor(Storage("LongStorage", f"{key0 + 4}", np.array([100])), 0, (), ())


def make_batchnorm():
    # nn.Sequential(Linear(4, 5), BatchNorm1d(5), ReLU(), Linear(5, 3), BatchNorm1d(3, affine=False))
    sd, layers = mlp_state(["0", "3"], [4, 5, 3])
    bn1, bn4 = bn_params(5), bn_params(3, affine=False)
    tail = collections.OrderedDict((k, sd.pop(k)) for k in ["3.weight", "3.bias"])
    add_bn(sd, "1", bn1, 10)
    sd.update(tail)
    add_bn(sd, "4", bn4, 20)
    zip_save(metadata(sd, ["", "0", "1", "2", "3", "4"]), "batchnorm-sequential.pt")
    expect("batchnorm-sequential.pt", [(layers[0][0], layers[0][1], bn1), (layers[1][0], layers[1][1], bn4)], 4, ["0", "3"])
    # Named modules registered out of order: fc1, fc2, bn1, bn2 (bn1 follows fc1 by its number),
    # and an input BatchNorm1d "bn0" registered first.
    sd, layers = mlp_state(["fc1", "fc2"], [3, 5, 5])
    bn0, bn1, bn2 = bn_params(3), bn_params(5), bn_params(5)
    named = collections.OrderedDict()
    add_bn(named, "bn0", bn0, 30)
    named.update(sd)
    add_bn(named, "bn1", bn1, 40)
    add_bn(named, "bn2", bn2, 50)
    zip_save(named, "batchnorm-named.pt", folder="batchnorm-named")
    expect("batchnorm-named.pt", [(layers[0][0], layers[0][1], bn1), (layers[1][0], layers[1][1], bn2)], 3, ["fc1", "fc2"], input_bn=bn0)


def make_dtypes():
    # fc1 float16, fc2 bfloat16, fc3 float64: one state dict of three dtypes
    sd = collections.OrderedDict()
    w1, b1 = as_f16(rand(4, 3)), as_f16(rand(4))
    w2, b2 = as_bf16(rand(4, 4)), as_bf16(rand(4))
    w3, b3 = rand(2, 4).astype(np.float64) + 1e-9, rand(2).astype(np.float64)
    for i, (p, kind, w, b) in enumerate([("fc1", "HalfStorage", w1, b1), ("fc2", "BFloat16Storage", w2, b2), ("fc3", "DoubleStorage", w3, b3)]):
        sd[f"{p}.weight"] = contiguous(Storage(kind, str(2 * i), w.ravel()), 0, w.shape)
        sd[f"{p}.bias"] = contiguous(Storage(kind, str(2 * i + 1), b), 0, b.shape)
    zip_save(sd, "dtypes.pt")
    expect("dtypes.pt", [(w1, b1, None), (w2, b2, None), (w3, b3, None)], 3, ["fc1", "fc2", "fc3"])


def make_strided():
    # All four tensors in one storage at offsets (a flat parameter buffer).
    w1, b1, w2, b2 = rand(5, 4), rand(5), rand(3, 5), rand(3)
    flat = Storage("FloatStorage", "0", np.concatenate([w1.ravel(), b1, w2.ravel(), b2]))
    sd = collections.OrderedDict()
    sd["layers.0.weight"] = contiguous(flat, 0, (5, 4))
    sd["layers.0.bias"] = contiguous(flat, 20, (5,))
    sd["layers.2.weight"] = contiguous(flat, 25, (3, 5))
    sd["layers.2.bias"] = contiguous(flat, 40, (3,))
    zip_save(sd, "shared-storage.pt")
    expect("shared-storage.pt", [(w1, b1, None), (w2, b2, None)], 4, ["layers.0", "layers.2"])
    # fc1.weight transposed (stored [in, out], stride (1, out)); fc2.weight every other column of a
    # [3, 10] matrix from offset 1 (stride (10, 2)); keys layers.9 / layers.10 sort naturally.
    w1, b1, w2, b2 = rand(5, 4), rand(5), rand(3, 5), rand(3)
    big = rand(3, 10)
    big[:, 1::2] = w2[:, :5]
    sd = collections.OrderedDict()
    sd["layers.10.weight"] = Tensor(Storage("FloatStorage", "0", big.ravel()), 1, (3, 5), (10, 2))
    sd["layers.10.bias"] = contiguous(Storage("FloatStorage", "1", b2), 0, (3,))
    sd["layers.9.weight"] = Tensor(Storage("FloatStorage", "2", w1.T.copy().ravel()), 0, (5, 4), (1, 5))
    sd["layers.9.bias"] = contiguous(Storage("FloatStorage", "3", b1), 0, (5,))
    zip_save(sd, "strided.pt", folder="model")
    expect("strided.pt", [(w1, b1, None), (w2, b2, None)], 4, ["layers.9", "layers.10"])


def make_big_endian():
    sd = collections.OrderedDict()
    w1, b1, w2, b2 = rand(4, 3), rand(4), as_f16(rand(2, 4)), as_f16(rand(2))
    sd["fc1.weight"] = contiguous(Storage("FloatStorage", "0", w1.ravel()), 0, w1.shape)
    sd["fc1.bias"] = contiguous(Storage("FloatStorage", "1", b1), 0, b1.shape)
    sd["fc2.weight"] = contiguous(Storage("HalfStorage", "2", w2.ravel()), 0, w2.shape)
    sd["fc2.bias"] = contiguous(Storage("HalfStorage", "3", b2), 0, b2.shape)
    zip_save(sd, "big-endian.pt", byteorder="big")
    expect("big-endian.pt", [(w1, b1, None), (w2, b2, None)], 3, ["fc1", "fc2"], notes=["big endian"])


def make_checkpoints():
    sd, layers = mlp_state(["fc1", "fc2"], [3, 6, 2], location="cuda:0")
    metadata(sd, ["", "fc1", "fc2"])
    exp_avg = rand(6, 3)
    optim = {
        "state": {0: {"step": Tensor(Storage("FloatStorage", "90", np.array([12.0])), 0, (), ()), "exp_avg": contiguous(Storage("FloatStorage", "91", exp_avg.ravel()), 0, (6, 3))}},
        "param_groups": [{"lr": 0.001, "betas": (0.9, 0.999), "eps": 1e-08, "weight_decay": 0, "amsgrad": False, "params": [0, 1, 2, 3]}],
    }
    ckpt = {
        "epoch": 7,
        "model_state_dict": sd,
        "optimizer_state_dict": optim,
        "loss": np.float64(0.25),
        "history": {"val_acc": [np.float32(0.5), np.float32(0.75)], "curve": np.arange(3, dtype=np.float32)},
        "tags": {"mlp", "demo"},
        "frozen": frozenset([1, 2]),
        "device": device("cuda", 0),
        "big": 2**70,
        "blob": b"\x00\x01bytes",
    }
    zip_save(ckpt, "checkpoint.pt")
    expect("checkpoint.pt", layers, 3, ["fc1", "fc2"], notes=["model_state_dict", "also holds: epoch, optimizer_state_dict, loss, history, tags, frozen, device, big, blob"])
    # PyTorch Lightning: the LightningModule's state dict under "state_dict", keys model.<...>
    sd, layers = mlp_state(["model.net.0", "model.net.2", "model.net.4"], [5, 8, 8, 3])
    metadata(sd, ["", "model", "model.net", "model.net.0", "model.net.1", "model.net.2", "model.net.3", "model.net.4"])
    ckpt = {
        "epoch": 3,
        "global_step": 120,
        "pytorch-lightning_version": "2.1.0",
        "state_dict": sd,
        "loops": {"fit_loop": {"state_dict": {}, "epoch_progress": {"total": {"ready": 4, "completed": 3}}}},
        "callbacks": {},
        "optimizer_states": [{"state": {}, "param_groups": [{"lr": 0.01, "params": [0, 1, 2, 3, 4, 5]}]}],
        "lr_schedulers": [],
        "hparams_name": "kwargs",
        "hyper_parameters": {"hidden": 8, "lr": 0.01},
    }
    zip_save(ckpt, "lightning.ckpt", folder="lightning")
    expect("lightning.ckpt", layers, 5, ["model.net.0", "model.net.2", "model.net.4"], hidden="tanh", notes=["state_dict"])


# ---- files to refuse ----


class Evil:
    """Unpickling this runs `command` (os.system) -- if anything ever unpickled it."""

    def __init__(self, how, command):
        self.how, self.command = how, command

    def __reduce__(self):
        if self.how == "system":
            return (os.system, (self.command,))
        return (eval, (f"__import__('os').system({self.command!r})",))


class Net:  # stands for a user's nn.Module subclass, pickled whole by torch.save(model)
    pass


def make_refused():
    net = Net()
    lin = Linear()
    w = rand(2, 3)
    lin.__dict__.update(training=True, _parameters=collections.OrderedDict(weight=contiguous(Storage("FloatStorage", "0", w.ravel()), 0, w.shape)), in_features=3, out_features=2)
    net.__dict__.update(training=True, _modules=collections.OrderedDict(fc1=lin))
    zip_save(net, "whole-model.pt")
    zip_save(collections.OrderedDict([("fc1.weight", Evil("system", "touch /tmp/prunescope-pytorch-pwned-system"))]), "malicious-system.pt")
    legacy_save(collections.OrderedDict([("fc1.weight", Evil("eval", "touch /tmp/prunescope-pytorch-pwned-eval"))]), "malicious-eval.pt")
    # A tensor that reaches past its storage, and a record shorter than its storage.
    sd = collections.OrderedDict()
    sd["fc1.weight"] = Tensor(Storage("FloatStorage", "0", rand(10)), 0, (5, 4), (4, 1))
    zip_save(sd, "hostile-stride.pt")
    sd = collections.OrderedDict()
    s = Storage("FloatStorage", "0", rand(20))
    sd["fc1.weight"] = contiguous(s, 0, (5, 4))
    s.values = s.values[:10]  # the record holds 10 of the 20 elements the pickle declares
    zip_save(sd, "hostile-short-record.pt")


def make_bombs():
    # "Billion laughs": 100 levels of lists, each of 10 references to the one below (10**100 leaves).
    b = bytearray(b"\x80\x02}q\x00X\x07\x00\x00\x00history]q\x01X\x03\x00\x00\x00lolaq\x020")
    for i in range(3, 103):
        b += b"(" + (b"h" + bytes([i - 1])) * 10 + b"lq" + bytes([i]) + b"0"
    b += b"h" + bytes([102]) + b"s."
    zip_save(None, "bomb-laughs.pt", pickle_bytes=bytes(b))
    zip_save(None, "bomb-marks.pt", pickle_bytes=b"\x80\x02" + b"(" * 20000 + b".")
    zip_save(None, "bomb-length.pt", pickle_bytes=b"\x80\x02\x8d" + struct.pack("<Q", 2**62) + b"x.")
    # A dict that holds itself and a list that holds itself.
    zip_save(None, "cycle.pt", pickle_bytes=b"\x80\x02}q\x00X\x04\x00\x00\x00selfh\x00sX\x04\x00\x00\x00loop]q\x01h\x01as.")


def make_protocols():
    """The same plain data pickled with each protocol 0-5 (pickle.test.ts checks every value)."""
    shared = [7]
    obj = {
        "ints": [0, 1, -1, 255, 256, 65535, 65536, -(2**31), 2**31, 2**70, -(2**70)],
        "floats": [0.5, -1.25, 1e300],
        "text": "h\u00e9llo \u2713 a\\b\nc",
        "bytes": b"\x00\xffab",
        "nested": (1, (2, 3), [4, {"k": None}]),
        "flags": (True, False),
        "set": {3},
        "frozen": frozenset({4}),
        "array": bytearray(b"xy"),
        "empty": ((), [], {}),
        "shared": [shared, shared],
    }
    for proto in range(6):
        with open(os.path.join(HERE, f"plain-p{proto}.pkl"), "wb") as f:
            pickle.dump(obj, f, protocol=proto)


def make_write_reference():
    """data.pkl as CPython's pickler writes the state dict PruneScope's writer must reproduce byte for byte."""
    w1, b1, w2, b2 = rand(4, 3), rand(4), rand(2, 4), rand(2)
    spec = {
        "name": "tiny",
        "inputShape": [3],
        "layers": [
            {"name": "dense_a", "activation": "relu", "kernel": w1.T.ravel().tolist(), "bias": b1.tolist(), "inputSize": 3, "units": 4},
            {"name": "dense_b", "activation": "linear", "kernel": w2.T.ravel().tolist(), "bias": b2.tolist(), "inputSize": 4, "units": 2},
        ],
    }
    sd = collections.OrderedDict()
    sd["fc1.weight"] = contiguous(Storage("FloatStorage", "0", w1.ravel()), 0, (4, 3))
    sd["fc1.bias"] = contiguous(Storage("FloatStorage", "1", b1), 0, (4,))
    sd["fc2.weight"] = contiguous(Storage("FloatStorage", "2", w2.ravel()), 0, (2, 4))
    sd["fc2.bias"] = contiguous(Storage("FloatStorage", "3", b2), 0, (2,))
    layers_json = json.dumps([{"name": "dense_a", "activation": "relu"}, {"name": "dense_b", "activation": "linear"}], separators=(",", ":"))
    sd._metadata = collections.OrderedDict(
        [
            ("", {"version": 1, "prunescope.producer": "PruneScope", "prunescope.name": "tiny", "prunescope.input_shape": "[3]", "prunescope.layers": layers_json}),
            ("fc1", {"version": 1}),
            ("fc2", {"version": 1}),
        ]
    )
    buf = io.BytesIO()
    ZipPickler(buf).dump(sd)
    with open(os.path.join(HERE, "write-reference.data.pkl"), "wb") as f:
        f.write(buf.getvalue())
    EXPECTED["write-reference"] = spec


# ---- checking a file PruneScope wrote ----

# Opcodes torch/_weights_only_unpickler.py accepts.
WEIGHTS_ONLY_OPS = set(
    "PROTO GLOBAL BINPUT LONG_BINPUT BINGET LONG_BINGET EMPTY_TUPLE REDUCE MARK BINUNICODE TUPLE TUPLE1 TUPLE2 TUPLE3 BININT BININT1 "
    "BININT2 NEWFALSE NEWTRUE NONE EMPTY_DICT EMPTY_LIST EMPTY_SET SETITEM SETITEMS APPEND APPENDS BUILD STOP BINPERSID LONG1 BINFLOAT "
    "SHORT_BINSTRING NEWOBJ".split()
)


class CheckUnpickler(pickle.Unpickler):
    names = {("collections", "OrderedDict"): collections.OrderedDict, ("torch", "FloatStorage"): "FloatStorage"}

    def find_class(self, module, name):
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return lambda storage, offset, size, stride, requires_grad, hooks: ("tensor", storage, offset, size, stride)
        if (module, name) in self.names:
            return self.names[(module, name)]
        raise pickle.UnpicklingError(f"unexpected global {module}.{name}")

    def persistent_load(self, pid):
        return pid


def check(path):
    """Reads a written file as torch.load(weights_only=True) would, with stand-ins, and prints its tensors."""
    raw = open(path, "rb").read()
    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None, "CRC mismatch"
        infos = z.infolist()
        folder = infos[0].filename.split("/")[0]
        for info in infos:
            assert info.compress_type == zipfile.ZIP_STORED, info.filename
            n, e = struct.unpack("<HH", raw[info.header_offset + 26 : info.header_offset + 30])
            start = info.header_offset + 30 + n + e
            assert start % 64 == 0, f"{info.filename} data at {start}"
        names = [i.filename[len(folder) + 1 :] for i in infos]
        print("records:", names)
        pkl = z.read(f"{folder}/data.pkl")
        ops = {op.name for op, _, _ in pickletools.genops(pkl)}
        assert ops <= WEIGHTS_ONLY_OPS, f"opcodes the weights-only unpickler refuses: {ops - WEIGHTS_ONLY_OPS}"
        sd = CheckUnpickler(io.BytesIO(pkl)).load()
        order = z.read(f"{folder}/byteorder").decode()
        for k, (_, pid, offset, size, stride) in sd.items():
            data = np.frombuffer(z.read(f"{folder}/data/{pid[2]}"), dtype="<f4" if order == "little" else ">f4")
            assert data.size == pid[4]
            t = np.lib.stride_tricks.as_strided(data[offset:], shape=size, strides=[s * 4 for s in stride])
            print(f"  {k} {tuple(size)} stride {tuple(stride)} sum {float(t.sum()):.6f}")
        print("_metadata:", dict(getattr(sd, "_metadata", {})))
        print("version:", z.read(f"{folder}/version"), "format_version:", z.read(f"{folder}/.format_version"))
    print("OK")


def fixtures(root):
    """Expected outputs of the three ../shared/fixtures/pytorch files, from their raw storage records and known shapes."""
    specs = {
        "lirpa-mnist-fc-3layer/mnist_fc_3layer.pth": ("model", [784, 128, 64, 10], "relu"),
        "lirpa-spectral-mlp-sequential/spectral_NOR_MLP_B.pth": ("spectral_NOR_MLP_B", [784, 100, 100, 10], "relu"),
        "hddm-lan-ddm-tanh/d27193a4153011ecb76ca0423f39a3e6_ddm_torch_state_dict.pt": ("archive", [6, 100, 100, 100, 1], "tanh"),
    }
    out = {}
    for rel, (folder, sizes, hidden) in specs.items():
        with zipfile.ZipFile(os.path.join(root, rel)) as z:
            # inputs the TypeScript test computes the same way: x[r][i] = ((7 i + 13 r) mod 17) / 17 - 0.5
            x = np.array([[((7 * i + 13 * r) % 17) / 17 - 0.5 for i in range(sizes[0])] for r in range(3)])
            h = x
            for i in range(len(sizes) - 1):  # storages 2i (weight [out, in]) and 2i+1 (bias), in state-dict order
                w = np.frombuffer(z.read(f"{folder}/data/{2 * i}"), "<f4").reshape(sizes[i + 1], sizes[i]).astype(np.float64)
                b = np.frombuffer(z.read(f"{folder}/data/{2 * i + 1}"), "<f4").astype(np.float64)
                h = act(hidden if i < len(sizes) - 2 else "linear", h @ w.T + b)
        out[rel] = {"outputs": h.tolist(), "activation": hidden}
    with open(os.path.join(HERE, "fixtures-expected.json"), "w") as f:
        json.dump(out, f)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        check(sys.argv[2])
        return
    if len(sys.argv) == 3 and sys.argv[1] == "--fixtures":
        fixtures(sys.argv[2])
        return
    make_legacy()
    make_batchnorm()
    make_dtypes()
    make_strided()
    make_big_endian()
    make_checkpoints()
    make_refused()
    make_bombs()
    make_protocols()
    make_write_reference()
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump(EXPECTED, f)


if __name__ == "__main__":
    main()
