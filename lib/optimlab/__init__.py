"""optimlab: the companion package of the course "From Gradient Descent to ADOPT".

Modules (each one concept):

* :mod:`optimlab.optim`        every optimizer of the course, from SGD to ADOPT
* :mod:`optimlab.schedules`    learning-rate schedules
* :mod:`optimlab.landscapes`   test functions f(θ) with known geometry
* :mod:`optimlab.trajectories` run a torch optimizer on a landscape, record its path
* :mod:`optimlab.plotting`     contours, optimizer paths and loss curves
* :mod:`optimlab.data`         the data root, MNIST and CIFAR-10
* :mod:`optimlab.exercises`    automatic checks for the chapters' coding exercises
"""

__version__ = "0.1.0"
