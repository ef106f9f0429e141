"Heavier checks of medfusionnet.learner (the cheap ones live in nbs/05e_learner.ipynb): resume after a real kill, NaN, losses, every modality, the DenseNet-121 baseline, early stopping across a resume, loading in a fresh process, and (slow) DDP under torchrun."
import json, os, re, subprocess, sys, textwrap, time, warnings
from pathlib import Path

import numpy as np, pandas as pd
import pytest
from medfusionnet.run import RunFolder
import torch, torch.nn.functional as F
from fastai.learner import CancelFitException
from fastai.callback.core import Callback
from fastai.metrics import ValueMetric
from fastai.torch_core import set_seed

from medfusionnet.learner import *
from medfusionnet.learner import _broadcast
from conftest import ROOT

torch.set_num_threads(min(2, torch.get_num_threads()))
BIN = Path(sys.executable).parent
SLOW = pytest.mark.skipif(os.environ.get('MEDFUSIONNET_SLOW') != '1', reason='slow: set MEDFUSIONNET_SLOW=1')

# A small dataset with every modality, each label decided by one of them (`medfusionnet.testing.toy_dataset`); the
# subprocesses below import the same function, so they build exactly the same data.
TOY = "from medfusionnet.testing import toy_dataset as make_toy\n"
from medfusionnet.testing import toy_dataset as make_toy
FIT = dict(epochs=3, bs=16, image_size=32, lr=3e-3, seed=0)


@pytest.fixture(scope='module')
def toy(tmp_path_factory):
    return make_toy(tmp_path_factory.mktemp('toy'))


@pytest.fixture(scope='module')
def uninterrupted(toy, tmp_path_factory):
    "The reference run: three epochs without interruption."
    df, s, tr, va = toy
    return fit_fusion(df, s, tr, va, run_dir=tmp_path_factory.mktemp('ref')/'run', cache_folder=s.image_root.parent/'cache', **FIT)


def _run(script, *args):
    "Start `python -c script args...` in the project root, output captured."
    return subprocess.Popen([sys.executable, '-c', script, *map(str, args)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def test_every_modality_learns(uninterrupted):
    h = uninterrupted.history
    assert h['epoch'].tolist() == [0, 1, 2]
    assert h['auroc_macro'].iloc[-1] > 0.8, h
    assert uninterrupted.prep.modalities == ('image', 'tabular', 'text')


def test_resume_after_kill_equals_uninterrupted(toy, uninterrupted, tmp_path):
    "Kill a training process (SIGKILL) once its epoch-1 checkpoint exists; resuming gives the uninterrupted run exactly."
    df, s, tr, va = toy
    run, mark = tmp_path/'run', tmp_path/'epoch1.saved'
    script = TOY + textwrap.dedent(f'''
        import sys, time, torch
        from pathlib import Path
        from fastai.callback.core import Callback
        from medfusionnet.learner import fit_fusion
        torch.set_num_threads({torch.get_num_threads()})
        class Hang(Callback):
            order = 100                       # after the checkpoint of the epoch is written
            def after_epoch(self):
                if self.epoch == 1: Path(sys.argv[3]).touch(); time.sleep(600)
        df, s, tr, va = make_toy(sys.argv[1])
        fit_fusion(df, s, tr, va, run_dir=sys.argv[2], cache_folder=Path(sys.argv[1])/'cache', cbs=[Hang()], **{FIT!r})
    ''')
    p = _run(script, s.image_root.parent, run, mark)
    t0 = time.time()
    while not mark.exists():
        assert p.poll() is None, p.stdout.read()[-3000:]
        assert time.time() - t0 < 300, 'the training process did not reach epoch 1'
        time.sleep(0.2)
    p.kill(); p.wait()
    st = read_checkpoint_state(run)
    assert (st['epoch'], st['finished']) == (1, False)
    res = fit_fusion(df, s, tr, va, run_dir=run, resume=True, cache_folder=s.image_root.parent/'cache', **FIT)
    a, b = uninterrupted.model.state_dict(), res.model.state_dict()
    assert all(torch.allclose(a[k].float(), b[k].float(), rtol=0, atol=0) for k in a), [k for k in a if not torch.equal(a[k], b[k])][:5]
    pd.testing.assert_frame_equal(res.history.drop(columns='time'), uninterrupted.history.drop(columns='time'))
    assert (run/'history.csv').read_text().count('epoch,') == 1          # one header, no empty rows
    np.testing.assert_array_equal(predict_fusion(res, df, va), predict_fusion(uninterrupted, df, va))


def test_huge_learning_rate_raises_one_training_error(toy, tmp_path):
    df, s, tr, va = toy
    with pytest.raises(TrainingError, match=r'training loss is (nan|inf) at epoch 0 batch \d+ \(counting from 0') as e:
        fit_fusion(df, s, tr, va, modalities=('tabular',), run_dir=tmp_path/'run', **{**FIT, 'lr': 1e6})
    assert 'Exception occured' not in str(e.value)                    # ours, not wrapped by fastai's callback machinery
    assert read_checkpoint_state(tmp_path/'run') is None               # no checkpoint of a poisoned epoch


def test_losses_on_extreme_logits():
    torch.manual_seed(0)
    x = (torch.randn(64, 5) * 30).requires_grad_()
    y = torch.randint(0, 2, (64, 5)).float()
    bce = F.binary_cross_entropy_with_logits(x, y)
    torch.testing.assert_close(WeightedBCELoss()(x, y), bce)
    for loss in (WeightedBCELoss([2., 1., 1., 5., 100.]), WeightedBCELoss()):
        x.grad = None
        v = loss(x, y); v.backward()
        assert v.isfinite() and x.grad.isfinite().all(), type(loss).__name__
    # a perfectly confident right answer costs (almost) nothing
    for loss in (WeightedBCELoss(), WeightedBCELoss([5., 1.])):
        assert loss(torch.tensor([[20., -20.]]), torch.tensor([[1., 0.]])) < 1e-6


def test_missing_images_are_absent_not_fatal(toy, tmp_path):
    df, s, tr, va = toy
    df = df.copy(); df.loc[[3, 100], 'image'] = ['gone.png', 'gone2.png']; df.loc[5, 'image'] = np.nan
    with warnings.catch_warnings(record=True) as w:        # (one warning for the training rows, one for the validation rows)
        warnings.simplefilter('always')
        res = fit_fusion(df, s, tr, va, modalities=('image',), run_dir=tmp_path/'run', cache_folder=tmp_path/'cache', **{**FIT, 'epochs': 1})
    assert any(re.search(r"1 of 90 rows name an image that is missing.*gone\.png.*present=False", str(x.message)) for x in w), [str(x.message) for x in w]
    ds = res.learn.dls.train.dataset
    assert ds.present[:, 0].tolist() == [i not in (3, 5) for i in tr]
    with pytest.warns(UserWarning, match=r"1 of 2 rows name an image that is missing.*gone2\.png"):
        assert predict_fusion(res, df, [100, 101]).shape == (2, 3)


def test_text_only_and_vocabulary_from_training_rows(toy, tmp_path):
    df, s, tr, va = toy
    df = df.copy(); df.loc[va[0], 'note'] = 'onlyinvalid words'
    res = fit_fusion(df, s, tr, va, modalities=('text',), run_dir=tmp_path/'run', **{**FIT, 'epochs': 8})
    assert 'onlyinvalid' not in res.prep.tokenizer_.vocab_ and 'effusion' in res.prep.tokenizer_.vocab_
    auc = per_label_auroc(res.learn)
    assert auc.loc['effusion', 'auroc'] > 0.9, auc


def test_densenet121_baseline_same_recipe(toy, tmp_path):
    df, s, tr, va = toy
    res = fit_fusion(df, s, tr, va, model='densenet121', run_dir=tmp_path/'run', cache_folder=s.image_root.parent/'cache',
                     **{**FIT, 'epochs': 1, 'bs': 32})
    assert res.prep.modalities == ('image',) and res.config['model'] == 'densenet121'
    assert isinstance(res.model, ImageOnly)
    P = predict_fusion(res, df.drop(columns=s.label_cols), va)
    assert P.shape == (len(va), 3) and ((P >= 0) & (P <= 1)).all()
    m = res.model.eval()
    img = torch.randn(2, 1, 32, 32)
    with torch.no_grad(): torch.testing.assert_close(m(img, torch.randn(2, 9), None, torch.ones(2, 5).long(), None), m(img))
    np.testing.assert_array_equal(predict_fusion(load_fusion(tmp_path/'run'/'model'), df, va), P)


def test_early_stopping_and_best_weights_survive_a_resume(toy, tmp_path):
    "Patience and best score are restored on resume: the resumed run stops where the uninterrupted one did."
    df, s, tr, va = toy
    prep = FusionPreprocessor(s, modalities=('tabular',)).fit(df.iloc[tr])
    scores = [0.5, 0.7, 0.6, 0.65, 0.9, 0.95]       # best at epoch 1; patience 2 runs out at epoch 3

    class StopAt(Callback):
        order = 100
        def after_epoch(self):
            if self.epoch == 2: raise CancelFitException

    def learner(run):
        set_seed(0)
        dls = fusion_dls(prep, df, tr, va, bs=16)
        learn = fusion_learner(dls, fusion_model('tiny', 3, prep), path=run,
                               metrics=[ValueMetric(lambda: scores[learn.epoch], 'score')],
                               cbs=[EpochSeed(0), CheckpointCallback('score', patience=2, keep_best=True)])
        return learn

    a = learner(tmp_path/'a'); a.fit_one_cycle(6, 1e-3)
    assert len(a.recorder.values) == 4
    st = read_checkpoint_state(tmp_path/'a')
    assert (st['epoch'], st['best_epoch'], st['wait'], st['finished']) == (3, 1, 2, True)
    best = torch.load(tmp_path/'a'/'checkpoints'/'epoch_1.pth', weights_only=False)['model']
    assert all(torch.equal(v, best[k]) for k, v in a.model.state_dict().items())        # best weights kept

    b = learner(tmp_path/'b'); b.fit_one_cycle(6, 1e-3, cbs=StopAt())
    st = read_checkpoint_state(tmp_path/'b')
    assert (st['epoch'], st['wait'], st['finished']) == (2, 1, False)
    b = learner(tmp_path/'b')
    b.load(st['checkpoint'], with_opt=True)
    ck = next(c for c in b.cbs if isinstance(c, CheckpointCallback)); ck.resume_state = st
    b.fit_one_cycle(6, 1e-3, start_epoch=st['epoch'] + 1)
    assert [v[-1] for v in b.recorder.values] == [0.65]                   # ran epoch 3 only, then stopped
    assert all(torch.equal(v, a.model.state_dict()[k]) for k, v in b.model.state_dict().items())


def test_resume_refusals_and_finished_run(toy, uninterrupted, tmp_path):
    df, s, tr, va = toy
    run = uninterrupted.run_dir
    with pytest.raises(TrainingError, match='pass resume=True'): fit_fusion(df, s, tr, va, run_dir=run, **FIT)
    with pytest.raises(TrainingError, match=r"\['bs'\] differ"): fit_fusion(df, s, tr, va, run_dir=run, resume=True, **{**FIT, 'bs': 8})
    with pytest.raises(TrainingError, match=r"\['valid_ids_sha1'\] differ"): fit_fusion(df, s, tr, va[1:], run_dir=run, resume=True, **FIT)
    again = fit_fusion(df, s, tr, va, run_dir=run, resume=True, cache_folder=s.image_root.parent/'cache', **FIT)   # finished: loads, no training
    pd.testing.assert_frame_equal(again.history, uninterrupted.history)
    np.testing.assert_array_equal(predict_fusion(again, df, va), predict_fusion(uninterrupted, df, va))


def test_keep_best_survives_resuming_a_finished_run(toy, tmp_path):
    df, s, tr, va = toy

    class Scores(Callback):
        "Make epoch 1 the best by validation AUROC, whatever training did."
        order = 55          # after the Recorder (50) has the epoch's values, before the checkpoint (61) reads them
        def after_epoch(self): self.recorder.values[-1][2] = [0.6, 0.9, 0.7, 0.8][self.epoch]

    kw = dict(modalities=('tabular',), run_dir=tmp_path/'run', keep_best=True, **{**FIT, 'epochs': 4})
    res = fit_fusion(df, s, tr, va, cbs=[Scores()], **kw)
    st = read_checkpoint_state(tmp_path/'run')
    assert (st['best_epoch'], st['epoch'], st['finished']) == (1, 3, True)
    best = torch.load(tmp_path/'run'/'checkpoints'/'epoch_1.pth', weights_only=False)['model']
    last = torch.load(tmp_path/'run'/'checkpoints'/'epoch_3.pth', weights_only=False)['model']
    assert all(torch.equal(v, best[k]) for k, v in res.model.state_dict().items())
    assert not all(torch.equal(v, last[k]) for k, v in res.model.state_dict().items())
    again = fit_fusion(df, s, tr, va, resume=True, **kw)            # finished: the best epoch's weights, no training
    np.testing.assert_array_equal(predict_fusion(again, df, va), predict_fusion(res, df, va))


def test_load_in_a_fresh_process_without_training_data(toy, uninterrupted, tmp_path):
    df, s, tr, va = toy
    new = df.iloc[va].drop(columns=s.label_cols)
    new.to_csv(tmp_path/'new.csv', index=False)
    script = textwrap.dedent('''
        import sys, numpy as np, pandas as pd
        from medfusionnet.learner import load_fusion, predict_fusion
        res = load_fusion(sys.argv[1], device='cpu')
        np.save(sys.argv[3], predict_fusion(res, pd.read_csv(sys.argv[2])))
    ''')
    p = _run(script, uninterrupted.run_dir/'model', tmp_path/'new.csv', tmp_path/'p.npy')
    out = p.communicate(timeout=300)[0]
    assert p.returncode == 0, out[-3000:]
    np.testing.assert_allclose(np.load(tmp_path/'p.npy'), predict_fusion(uninterrupted, df, va), rtol=0, atol=1e-6)


def test_predict_images_from_another_folder(toy, uninterrupted, tmp_path):
    import shutil
    df, s, tr, va = toy
    shutil.copytree(s.image_root, tmp_path/'moved')
    np.testing.assert_array_equal(predict_fusion(uninterrupted, df, va, image_root=tmp_path/'moved'),
                                  predict_fusion(uninterrupted, df, va))
    assert uninterrupted.prep.schema.image_root == s.image_root          # the result itself is unchanged
    with pytest.warns(UserWarning, match='30 of 30 rows name an image that is missing'):
        predict_fusion(uninterrupted, df, va, image_root=tmp_path/'nowhere')


def test_show_batch_and_worker_processes(toy, uninterrupted):
    import matplotlib.pyplot as plt
    dls = uninterrupted.learn.dls
    fig = dls.show_batch(max_n=6)
    assert len([a for a in fig.axes if a.images]) == 6
    assert 'x1=' in fig.axes[0].get_title()
    plt.close('all')
    df, s, tr, va = toy
    prep = uninterrupted.prep
    b0 = fusion_dls(prep, df, tr, va, bs=8, num_workers=0).valid.one_batch()
    b2 = fusion_dls(prep, df, tr, va, bs=8, num_workers=2).valid.one_batch()     # the loader path used on CUDA
    for u, v in zip(b0, b2): torch.testing.assert_close(u, v, equal_nan=True)
    t = fusion_dls(FusionPreprocessor(s, modalities=('tabular',)).fit(df.iloc[tr]), df, tr, va, bs=8).show_batch(max_n=3)
    assert len(t) == 3 and t.columns[-1] == 'positive labels' and {'x1', 'site'} <= set(t.columns)


# The command line under a launcher, as the scale-up page shows it (`torchrun ... -m medfusionnet.cli train ...`): this
# wrapper is that entry point (`cli.main`) with two counters added, what each rank resized into the cache and the
# weights each rank ended with.
DDP_WRAPPER = textwrap.dedent('''
    import json, os, sys, torch
    from pathlib import Path
    import medfusionnet.images as images, medfusionnet.learner as learner
    built, seen = [], {}
    _build_one = images.ResizeCache._build_one
    def counted(self, src, dst): built.append(dst.name); return _build_one(self, src, dst)
    images.ResizeCache._build_one = counted
    _fit = learner.fit_fusion
    def fit(*a, **k):
        res = _fit(*a, **k)
        with torch.no_grad(): seen['checksum'] = float(sum(p.double().sum() for p in res.model.parameters()))
        import fastai.distributed
        seen['patch_left'] = fastai.distributed.DistributedDL._broadcast is learner._broadcast   # (scoped to the fit)
        seen.update(history=res.history.drop(columns='time', errors='ignore').to_dict('list'),
                    world=torch.distributed.get_world_size(), backend=torch.distributed.get_backend())
        return res
    learner.fit_fusion = fit
    from medfusionnet.cli import main
    rc = main(sys.argv[1:])
    Path(os.environ['MFN_RANKS'], f"rank{os.environ['RANK']}.json").write_text(json.dumps(dict(rc=rc, built=built, **seen)))
    sys.exit(rc)
''')


def test_ddp_command_line_train_two_processes_on_cpu(tmp_path):
    """`medfusionnet train` from a user's CSV under `torchrun --nproc_per_node 2` on the CPU (gloo), the whole path:
    load and checks, stage 1, the image cache built by rank 0 alone and read by both, training in step (same weights,
    metrics gathered from both ranks), and one run folder written by rank 0."""
    pytest.importorskip('accelerate')
    df, s, _, _ = make_toy(tmp_path/'data', n=96)
    df.to_csv(tmp_path/'data'/'table.csv', index=False)
    (tmp_path/'wrapper.py').write_text(DDP_WRAPPER)
    (tmp_path/'ranks').mkdir()
    args = ['train', '--dataset', tmp_path/'data'/'table.csv', '--labels', 'bright,high,effusion', '--numeric', 'x1,x2',
            '--categorical', 'site', '--image-col', 'image', '--image-root', tmp_path/'data'/'img', '--text-col', 'note',
            '--group-col', 'pid', '--epochs', '1', '--bs', '16', '--image-size', '32', '--n-boot', '20', '--out', tmp_path/'run']
    env = dict(os.environ, MFN_RANKS=str(tmp_path/'ranks'), MEDFUSIONNET_CACHE=str(tmp_path/'cache'), OMP_NUM_THREADS='1')
    t = time.time()
    p = subprocess.run([str(BIN/'torchrun'), '--standalone', '--nproc_per_node', '2', str(tmp_path/'wrapper.py'), *map(str, args)],
                       cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert p.returncode == 0, (p.stdout + p.stderr)[-4000:]
    r0, r1 = (json.loads((tmp_path/'ranks'/f'rank{r}.json').read_text()) for r in (0, 1))
    assert (r0['rc'], r1['rc'], r0['world'], r0['backend'], r1['backend']) == (0, 0, 2, 'gloo', 'gloo')
    entries = sorted(f.name for f in (tmp_path/'cache').rglob('*.png'))
    assert len(entries) == len(df) and sorted(r0['built']) == entries    # rank 0 resized every image once ...
    assert r1['built'] == []                                               # ... and rank 1 only read them
    assert r0['checksum'] == r1['checksum']                              # gradients were averaged: same weights
    assert not r0['patch_left'] and not r1['patch_left']                   # the CPU broadcast is fastai's again after the fit
    assert r0['history']['auroc_macro'] == r1['history']['auroc_macro']  # metrics gathered from both ranks
    m = json.loads((tmp_path/'run'/'metrics.json').read_text())           # rank 0's report, of the trained model
    assert m['test']['rows'] > 0 and 0 <= m['metrics']['macro']['auroc'] <= 1
    assert (tmp_path/'run'/'report.md').exists() and p.stdout.count('run folder:') == 1
    res = RunFolder(tmp_path/'run').load_model(device='cpu')                # the default: the stack of 3 inner-fold networks
    net = res.networks[-1]                                                   # (the last network trained: the checksum's)
    with torch.no_grad(): assert float(sum(p.double().sum() for p in net.model.parameters())) == r0['checksum']
    print(f"2-process command-line train: {time.time() - t:.0f} s")


def test_broadcast_helper_without_cuda():
    "The CPU broadcast used under gloo keeps the list as it is in a one-process group."
    import torch.distributed as dist
    if dist.is_initialized(): pytest.skip('a process group already exists')
    store = dist.HashStore()
    dist.init_process_group('gloo', store=store, rank=0, world_size=1)
    try: assert _broadcast(None, [3, 1, 2], 0) == [3, 1, 2]
    finally: dist.destroy_process_group()
