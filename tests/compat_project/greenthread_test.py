"""Greenthreads, timeouts and the hub, tested in eventlet's own unittest style."""

import unittest

import eventlet
from eventlet import event, greenthread, hubs
from eventlet.support import greenlets as greenlet


class Spawn(unittest.TestCase):
    def test_wait_returns_the_result(self):
        gt = eventlet.spawn(lambda a, b: a + b, 1, b=2)
        self.assertEqual(gt.wait(), 3)

    def test_wait_raises_the_exception(self):
        def fail():
            raise KeyError("boom")

        gt = eventlet.spawn(fail)
        self.assertRaises(KeyError, gt.wait)

    def test_link_gets_the_greenthread_and_its_arguments(self):
        results = []
        done = event.Event()

        def linked(gt, extra):
            results.append((gt.wait(), extra))
            done.send()

        gt = eventlet.spawn(lambda: "value")
        gt.link(linked, "extra")
        done.wait()
        self.assertEqual(results, [("value", "extra")])

    def test_kill_a_waiting_greenthread(self):
        evt = event.Event()
        gt = eventlet.spawn(evt.wait)
        eventlet.sleep(0)
        greenthread.kill(gt)
        self.assertRaises(greenlet.GreenletExit, gt.wait)

    def test_kill_with_an_exception(self):
        started = event.Event()

        def sleeper():
            started.send()
            eventlet.sleep(60)

        gt = eventlet.spawn(sleeper)
        started.wait()
        gt.kill(ValueError("stop"))
        self.assertRaises(ValueError, gt.wait)

    def test_cancel_a_delayed_spawn(self):
        gt = eventlet.spawn_after(60, lambda: "never")
        gt.cancel()
        self.assertRaises(greenlet.GreenletExit, gt.wait)

    def test_spawn_n_runs_the_function(self):
        evt = event.Event()
        eventlet.spawn_n(evt.send, "ran")
        self.assertEqual(evt.wait(), "ran")

    def test_getcurrent_in_a_greenthread_is_that_greenthread(self):
        gt = eventlet.spawn(greenthread.getcurrent)
        self.assertIs(gt.wait(), gt)


class Timeouts(unittest.TestCase):
    def test_with_timeout_raises(self):
        self.assertRaises(eventlet.Timeout, eventlet.with_timeout, 0.01, eventlet.sleep, 60)

    def test_with_timeout_value(self):
        self.assertEqual(eventlet.with_timeout(0.01, eventlet.sleep, 60, timeout_value="late"), "late")

    def test_timeout_with_an_exception(self):
        with self.assertRaises(ValueError):
            with eventlet.Timeout(0.01, ValueError("too slow")):
                eventlet.sleep(60)

    def test_timeout_false_leaves_the_block_silently(self):
        with eventlet.Timeout(0.01, False):
            eventlet.sleep(60)
            self.fail("the block went on after its timeout")

    def test_cancelled_timeout_is_not_pending(self):
        timeout = eventlet.Timeout(60)
        self.assertTrue(timeout.pending)
        timeout.cancel()
        self.assertFalse(timeout.pending)


class Hub(unittest.TestCase):
    def test_schedule_call_global(self):
        evt = event.Event()
        hubs.get_hub().schedule_call_global(0.01, evt.send, "fired")
        self.assertEqual(evt.wait(), "fired")

    def test_cancelled_timer_never_fires(self):
        timer = hubs.get_hub().schedule_call_global(60, self.fail, "the timer fired")
        timer.cancel()
        self.assertFalse(timer.pending)

    def test_clock_moves_forward(self):
        hub = hubs.get_hub()
        before = hub.clock()
        eventlet.sleep(0.01)
        self.assertGreater(hub.clock(), before)
