"""optimlab: the companion package of the course "From Gradient Descent to ADOPT".

Modules (each one concept):

* :mod:`optimlab.optim`        every optimizer of the course, from SGD to ADOPT
* :mod:`optimlab.schedules`    learning-rate schedules
* :mod:`optimlab.landscapes`   test functions f(θ) with known geometry
* :mod:`optimlab.trajectories` run a torch optimizer on a landscape, record its path
* :mod:`optimlab.plotting`     contours, optimizer paths and loss curves
* :mod:`optimlab.animation`    animated optimizer paths, embeddable in a static page
* :mod:`optimlab.gradcheck`    finite-difference gradient checks
* :mod:`optimlab.online`       online problems on [-1, 1] on which Adam fails
* :mod:`optimlab.toy`          the ADOPT paper's toy problem, many runs at once
* :mod:`optimlab.data`         the data root, MNIST and CIFAR-10, fixed splits
* :mod:`optimlab.augment`      an image set on one device, served as augmented batches
* :mod:`optimlab.models`       the MLP for MNIST and the ResNet-18 for CIFAR-10
* :mod:`optimlab.experiments`  reproducible training runs and the audited result cache
* :mod:`optimlab.exercises`    automatic checks for the chapters' coding exercises
"""

__version__ = "0.1.0"
