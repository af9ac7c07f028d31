"""The one comparison protocol: a spec of cells, the cell runner, executors, statistics, reports."""
