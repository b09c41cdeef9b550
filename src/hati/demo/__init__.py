"""The tutorial (shared/seeds) as runnable code, used by ``hati demo`` and the tests."""
