"Slower property checks of MedFusionNet (the cheap ones live in nbs/04_model.ipynb): every variant x modality subset x ablation, masking invariance under random masks, gradients, determinism, pickling, fastai."
import pickle, tempfile
from itertools import combinations
from pathlib import Path

import pytest
import torch, torch.nn as nn, torch.nn.functional as F
import torchvision
from hypothesis import given, settings, HealthCheck, strategies as st

from medfusionnet.core import MedFusionNetError
from medfusionnet.layers import ModelInputError, ModelConfigError, WordTokenizer, inplace_modules, module_call_counts
from medfusionnet.model import MODALITIES, MedFusionNet, create_model, dummy_inputs, count_macs, DenseNet121Trunk

torch.set_num_threads(min(2, torch.get_num_threads()))
CFG = dict(n_num=4, cat_cards=(3, 2), vocab_size=40)
SUBSETS = [c for r in (1, 2, 3) for c in combinations(MODALITIES, r)]
ABLATIONS = [dict(), dict(fpn=False), dict(fusion='concat'), dict(label_queries=False), dict(learned_pos=True)]
MIXED = torch.tensor([[1, 1, 1], [0, 1, 1], [1, 0, 1], [1, 1, 0], [0, 0, 0]], dtype=torch.bool)


def _model(name, **kw):
    torch.manual_seed(0)
    return create_model(name, 3, **CFG, **kw)


@pytest.fixture(scope='module')
def base():
    "One DenseNet-121 based model, reused (building DenseNet-121 is the slow part)."
    return _model('base')


@pytest.mark.parametrize('name', ['tiny', 'small'])
@pytest.mark.parametrize('mods', SUBSETS, ids='+'.join)
def test_shapes_every_subset_and_ablation(name, mods):
    for ab in ABLATIONS:
        m = _model(name, modalities=mods, **ab).eval()
        with torch.no_grad():
            for bs, pres in [(1, None), (5, MIXED)]:
                out = m(*dummy_inputs(m, bs=bs, present=pres))
                assert out.shape == (bs, 3) and out.isfinite().all(), (name, mods, ab)


@pytest.mark.parametrize('mods', SUBSETS, ids='+'.join)
def test_base_every_subset(mods):
    m = _model('base', modalities=mods).eval()
    with torch.no_grad(): out = m(*dummy_inputs(m, bs=5, present=MIXED))
    assert out.shape == (5, 3) and out.isfinite().all()


def test_base_ablations_and_rgb():
    for ab in ABLATIONS[1:] + [dict(img_ch=3)]:
        m = _model('base', **ab).eval()
        with torch.no_grad(): out = m(*dummy_inputs(m, bs=2, size=96))
        assert out.shape == (2, 3) and out.isfinite().all(), ab
        assert inplace_modules(m) == []


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pres=st.lists(st.lists(st.booleans(), min_size=3, max_size=3), min_size=1, max_size=6),
       seed=st.integers(0, 2**16), ab=st.sampled_from(range(len(ABLATIONS))), train=st.booleans())
def test_absent_rows_ignore_their_input(pres, seed, ab, train):
    "Rows marked absent give identical logits whatever their input holds (eval and train mode, dropout off)."
    pres = torch.tensor(pres)
    torch.manual_seed(0)
    m = create_model('tiny', 3, **CFG, **ABLATIONS[ab], drop=0.).train(train)
    torch.manual_seed(seed)
    img, num, cat, txt, _ = dummy_inputs(m, bs=len(pres))
    def fill(x, col, junk):
        return torch.where(pres[:, col].view(-1, *[1]*(x.dim()-1)), x, junk)
    zero = m(fill(img, 0, torch.zeros(())), fill(num, 1, torch.zeros(())), fill(cat, 1, torch.zeros((), dtype=torch.long)),
             fill(txt, 2, torch.zeros((), dtype=torch.long)), pres)
    junk = m(fill(img, 0, 1e4*torch.randn_like(img)), fill(num, 1, torch.full_like(num, float('nan'))),
             fill(cat, 1, torch.randint_like(cat, 0, 3)), fill(txt, 2, torch.randint_like(txt, 0, 40)), pres)
    assert torch.equal(zero, junk)
    assert zero.isfinite().all()


def test_present_rows_see_their_input():
    "The converse: a present modality does change the output of its row, and only of its row (eval mode)."
    m = _model('tiny').eval()
    img, num, cat, txt, pres = dummy_inputs(m, bs=4)
    with torch.no_grad():
        a = m(img, num, cat, txt, pres)
        img2 = img.clone(); img2[1] = torch.randn_like(img2[1])
        b = m(img2, num, cat, txt, pres)
    assert not torch.allclose(a[1], b[1])
    assert torch.equal(a[[0, 2, 3]], b[[0, 2, 3]])


@pytest.mark.parametrize('name', ['tiny', 'small', 'base'])
def test_gradients_reach_every_encoder(name, base):
    m = (base if name == 'base' else _model(name)).train()
    m.zero_grad()
    F.binary_cross_entropy_with_logits(m(*dummy_inputs(m, bs=4, present=MIXED[:4])), torch.ones(4, 3)).backward()
    for enc in (m.image_encoder, m.tab_tokenizer, m.text_encoder):
        grads = [p.grad for p in enc.parameters()]
        assert all(g is not None and g.isfinite().all() for g in grads)
        assert sum(float(g.abs().sum()) for g in grads) > 0
    missing = [n for n, p in m.named_parameters() if p.grad is None]
    assert missing == [], missing


@pytest.mark.parametrize('name', ['tiny', 'small', 'base'])
def test_deterministic_under_seed(name):
    outs = []
    for _ in range(2):
        m = _model(name).eval()
        torch.manual_seed(1); xb = dummy_inputs(m, bs=2)
        with torch.no_grad(): outs.append(m(*xb))
    assert torch.equal(*outs)


@pytest.mark.parametrize('name', ['tiny', 'small', 'base'])
def test_each_module_called_once(name, base):
    m = (base if name == 'base' else _model(name)).eval()
    m.record = True
    with torch.no_grad(): counts = module_call_counts(m, *dummy_inputs(m, bs=2, present=MIXED[:2]))
    m.record = False
    assert max(counts.values()) == 1 and inplace_modules(m) == []


def test_batch_of_one_in_training_mode():
    m = _model('tiny').train()
    out = m(*dummy_inputs(m, bs=1))
    out.sum().backward()
    assert out.shape == (1, 3)


def test_wrong_inputs_name_expected_shape():
    m = _model('small').eval()
    img, num, cat, txt, pres = dummy_inputs(m, bs=2)
    cases = [((torch.randn(2, 3, 64, 64), num, cat, txt), 'image: expected shape (B, 1, H, W), got (2, 3, 64, 64)'),
             ((img[:, :, None], num, cat, txt), 'image: expected shape (B, 1, H, W), got (2, 1, 1, 64, 64)'),
             ((img, num[:, :3], cat, txt), 'tab_num: expected shape (B, 4), got (2, 3)'),
             ((img, num, cat[:, :1], txt), 'tab_cat: expected shape (B, 2), got (2, 1)'),
             ((img, num, cat, txt, pres[:1]), 'present: expected shape (2, 3), got (1, 3)'),
             ((img, num, cat, torch.zeros(2, 65, dtype=torch.long)), 'text: expected at most 64 ids per row'),
             ((img, num, cat + 5, txt), 'tab_cat: feature 0 expects codes 0..3')]
    for args, msg in cases:
        with pytest.raises(ModelInputError, match=None) as e: m(*args)
        assert msg in str(e.value), (msg, str(e.value))
        assert isinstance(e.value, MedFusionNetError) and isinstance(e.value, ValueError)


def test_weights_loading_layouts():
    torch.manual_seed(0)
    ref = torchvision.models.densenet121(weights=None)
    with tempfile.TemporaryDirectory() as d:
        torch.save({'state_dict': {f'module.{k}': v for k, v in ref.state_dict().items()}}, Path(d)/'wrapped.pth')
        m = create_model('base', 3, modalities=('image',), img_ch=3, weights=Path(d)/'wrapped.pth')
        torch.save(ref, Path(d)/'pickled.pt')   # a whole pickled model, as torchxrayvision stores them
        with pytest.raises(ModelConfigError, match='pass'): DenseNet121Trunk(1, weights=Path(d)/'pickled.pt')
    got = m.image_encoder.trunk.features.state_dict()
    assert all(torch.equal(v, ref.features.state_dict()[k]) for k, v in got.items())
    # torchvision's old key names ('norm.1' for 'norm1') are renamed as torchvision itself does
    old = {k.replace('norm1', 'norm.1').replace('conv2', 'conv.2'): v for k, v in ref.state_dict().items()}
    t = DenseNet121Trunk(1, weights=old)
    assert torch.equal(t.features.denseblock2.denselayer3.norm1.weight, ref.features.denseblock2.denselayer3.norm1.weight)
    with pytest.raises(ModelConfigError, match='is for trunk=.densenet121. or a timm trunk'): create_model('small', 3, modalities=('image',), weights=old)


def test_pickle_and_state_dict_roundtrip():
    "fastai's `learn.export` pickles the whole model; a state dict reloads into a fresh model."
    m = _model('tiny').eval()
    xb = dummy_inputs(m, bs=2)
    with torch.no_grad():
        a = m(*xb)
        assert torch.equal(pickle.loads(pickle.dumps(m))(*xb), a)
        m2 = create_model('tiny', 3, **CFG).eval(); m2.load_state_dict(m.state_dict())
        assert torch.equal(m2(*xb), a)
    m.record = True
    m(*xb)                                   # recorded tensors attached to the graph are not pickled
    assert pickle.loads(pickle.dumps(m)).last_features == {}
    tok = pickle.loads(pickle.dumps(WordTokenizer().fit(['a b', 'b c'])))
    assert tok.encode(['c d'], 3).tolist() == [[4, 1, 0]]


def test_macs_grow_with_image_size():
    m = _model('tiny')
    assert count_macs(m, *dummy_inputs(m, bs=1, size=128)) > 3 * count_macs(m, *dummy_inputs(m, bs=1, size=64))


def test_trains_with_fastai():
    "`model(*xb)` with fastai: five inputs (None-free: an absent text is an empty tensor) and multi-hot targets."
    from fastai.data.core import DataLoaders
    from fastai.learner import Learner
    torch.manual_seed(0)
    m = create_model('tiny', 3, modalities=('image', 'tabular'), n_num=4)
    n = 32
    img, num, _, _, pres = dummy_inputs(m, bs=n, nan_frac=0.2)
    pres = pres & (torch.rand(n, 3) > 0.2)
    y = (torch.rand(n, 3) < 0.3).float()
    items = [(img[i], num[i], torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long), pres[i], y[i]) for i in range(n)]
    dls = DataLoaders.from_dsets(items[:24], items[24:], bs=8, device='cpu')
    learn = Learner(dls, m, loss_func=nn.BCEWithLogitsLoss())
    with learn.no_logging(): learn.fit(1, 1e-3)
    preds, targs = learn.get_preds()
    assert preds.shape == (8, 3) and preds.isfinite().all()
