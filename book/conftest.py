"""pytest configuration for ``pytest --nbval book``.

nbval runs cells with ``store_history=False``, and IPython decides whether a
trailing ``;`` silences a cell's last value by looking at the input history,
so under nbval ``ax.legend();`` would display ``<matplotlib.legend.Legend at
0x...>`` although Jupyter, Colab and the stored outputs show nothing.  Running
the cells with history, as a notebook does, restores the notebook behaviour.
"""

from nbval.kernel import RunningKernel


def _execute_like_a_notebook(self, cell_input, allow_stdin=None):
    return self.kc.execute(cell_input, store_history=True, allow_stdin=allow_stdin,
                           stop_on_error=False)


RunningKernel.execute_cell_input = _execute_like_a_notebook
