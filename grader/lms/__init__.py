"""Learning management systems: question import (Moodle XML, GIFT) and grade export."""
