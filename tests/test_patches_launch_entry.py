"""run_target also calls a console-script entry point ``module:function`` (Ultralytics'
``yolo`` is ``ultralytics.cfg:entrypoint``) with sys.argv set, as its script would."""
import sys

from loosen.patches.launch import run_target


def test_entry_point_sees_argv_and_its_exit_code_is_returned(tmp_path, monkeypatch):
    (tmp_path / 'entry_mod_for_launch.py').write_text(
        'import sys\n'
        'SEEN = []\n'
        'def main():\n'
        '    SEEN.append(sys.argv[1:])\n'
        '    if sys.argv[1] == "fail":\n'
        '        sys.exit(4)\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    before = sys.argv[:]
    assert run_target('entry_mod_for_launch:main', ['ok', '--x=1'], module=True) == 0
    assert run_target('entry_mod_for_launch:main', ['fail'], module=True) == 4
    import entry_mod_for_launch
    assert entry_mod_for_launch.SEEN == [['ok', '--x=1'], ['fail']]
    assert sys.argv == before
