"""The shared launcher runs a script as ``python`` would and returns its exit code."""
import sys

from loosen.patches.launch import exit_code, run_target


def test_script_sees_its_argv_and_setup_runs_first(tmp_path, capsys):
    script = tmp_path / 'tool.py'
    (tmp_path / 'helper_mod_for_launch.py').write_text('VALUE = 7\n')
    script.write_text(
        'import sys, helper_mod_for_launch, builtins\n'
        'print(sys.argv[1:], helper_mod_for_launch.VALUE, builtins.LOOSEN_SETUP)\n'
        'sys.exit(int(sys.argv[1]))\n')
    import builtins

    def setup():
        builtins.LOOSEN_SETUP = 'ready'

    before = sys.argv[:]
    try:
        code = run_target(str(script), ['3', '--flag'], setup=[setup])
    finally:
        del builtins.LOOSEN_SETUP
    assert code == 3
    assert capsys.readouterr().out.strip() == "['3', '--flag'] 7 ready"
    assert sys.argv == before
    assert str(tmp_path) not in sys.path


def test_module_target_runs_as_main(capsys):
    assert run_target('json.tool', ['--help'], module=True) == 0
    assert 'usage' in capsys.readouterr().out


def test_exit_code_of_messages_and_none(capsys):
    assert exit_code(None) == 0
    assert exit_code(4) == 4
    assert exit_code('broken') == 1
    assert 'broken' in capsys.readouterr().err
