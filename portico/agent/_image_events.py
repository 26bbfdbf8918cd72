"""kubelet's image events for a built-in or mapped image (nothing is pulled): `Pulled`
("already present", or after `Pulling` with `Always`, where the program comes from),
and for an image that cannot be had, its reason (`ErrImagePull`, `ErrImageNeverPull`,
`InvalidImageName`, `CreateContainerError`) with kubelet's `Failed` events.
Pulled images have theirs in `_oci`; both go through the pull back-off here
(`pull_backed_off` before a pull, `pull_failed` after one, `_oci_backoff`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from portico.agent import _events as ev
from portico.agent._oci_backoff import ERR_IMAGE_PULL, IMAGE_PULL_BACK_OFF, backoff_key
from portico.images import ImageError, ImageErrorReason
from portico.model.vocabulary import EventType, ImagePullPolicy

if TYPE_CHECKING:
    from portico.agent._containers import ContainerRunner

__all__ = ["ERR_IMAGE_PULL", "IMAGE_PULL_BACK_OFF", "image_failed", "image_ready",
           "pull_backed_off", "pull_failed"]


def pull_backed_off(runner: ContainerRunner) -> bool:
    """kubelet's check before a pull: in back-off, the container waits
    `ImagePullBackOff` (BackOff and Failed events) and True is returned."""
    pod, image = runner.pod, runner.record.image
    message = pod.ctx.images.backoff.in_back_off(backoff_key(pod.uid, image), image,
                                                 pod.ctx.clock())
    if message is None:
        return False
    runner._event(EventType.NORMAL, ev.Reason.BACK_OFF, ev.PULL_BACK_OFF.format(image=image))
    runner._create_failed(IMAGE_PULL_BACK_OFF, message, IMAGE_PULL_BACK_OFF)
    return True


def pull_failed(runner: ContainerRunner, message: str) -> None:
    """The pull failed with `message`: Failed events, `ErrImagePull`, back-off armed."""
    pod, image = runner.pod, runner.record.image
    runner._event(EventType.WARNING, ev.Reason.FAILED,
                  ev.PULL_FAILED.format(image=image, message=message))
    runner._create_failed(ERR_IMAGE_PULL, message, ERR_IMAGE_PULL)
    pod.ctx.images.backoff.failed(backoff_key(pod.uid, image), message, pod.ctx.clock())


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
    elif not pull_backed_off(runner):
        runner._event(EventType.NORMAL, ev.Reason.PULLING, ev.PULLING.format(image=image))
        pull_failed(runner, error.message)
