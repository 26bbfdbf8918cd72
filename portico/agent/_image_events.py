"""kubelet's image events for a built-in or mapped image (nothing is pulled): `Pulled`
("already present", or after `Pulling` with `Always`, where the program comes from),
and for an image that cannot be had, its reason (`ErrImagePull`, `ErrImageNeverPull`,
`InvalidImageName`, `CreateContainerError`) with kubelet's `Failed` events.
Pulled images have theirs in `_oci`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from portico.agent import _events as ev
from portico.images import ImageError, ImageErrorReason
from portico.model.vocabulary import EventType, ImagePullPolicy

if TYPE_CHECKING:
    from portico.agent._containers import ContainerRunner

ERR_IMAGE_PULL = "ErrImagePull"


def image_ready(runner: ContainerRunner) -> None:
    """kubelet's Pulled (or Pulling, Pulled) for an image Portico has."""
    image, mappings = runner.record.image, runner.pod.ctx.mappings
    if runner.spec.get("imagePullPolicy") != ImagePullPolicy.ALWAYS:
        runner._event(EventType.NORMAL, ev.Reason.PULLED, ev.ALREADY_PRESENT.format(image=image))
        return
    runner._event(EventType.NORMAL, ev.Reason.PULLING, ev.PULLING.format(image=image))
    runner._event(EventType.NORMAL, ev.Reason.PULLED, ev.NOTHING_PULLED[
        ev.image_source(image, mappings)].format(image=image, hint=mappings.hint))


def image_failed(runner: ContainerRunner, error: ImageError) -> None:
    """The container waits with the image error's reason, after kubelet's events."""
    image = runner.record.image
    if error.reason is ImageErrorReason.CREATE_CONTAINER_ERROR:
        image_ready(runner)
        runner._create_failed(str(error.reason), error.message)
    elif error.reason is ImageErrorReason.INVALID_IMAGE_NAME:
        runner._event(EventType.WARNING, ev.Reason.INSPECT_FAILED, error.message)
        runner._create_failed(str(error.reason), error.message, str(error.reason))
    elif runner.spec.get("imagePullPolicy") == ImagePullPolicy.NEVER:
        message = ev.NEVER_PULL.format(image=image)
        runner._event(EventType.WARNING, ev.Reason.ERR_IMAGE_NEVER_PULL, message)
        runner._create_failed(ev.Reason.ERR_IMAGE_NEVER_PULL, message,
                              ev.Reason.ERR_IMAGE_NEVER_PULL)
    else:
        runner._event(EventType.NORMAL, ev.Reason.PULLING, ev.PULLING.format(image=image))
        runner._event(EventType.WARNING, ev.Reason.FAILED,
                      ev.PULL_FAILED.format(image=image, message=error.message))
        runner._create_failed(ERR_IMAGE_PULL, error.message, ERR_IMAGE_PULL)
