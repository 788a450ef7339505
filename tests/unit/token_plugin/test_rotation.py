"""ntcli_token_plugin.rotation: the pieces below the refresh transaction."""

import uuid

import testtools

from ntcli_token_plugin import rotation


class TestRandomUUID(testtools.TestCase):

    def test_same_form_as_uuid4(self):
        keys = {rotation._random_uuid() for _ in range(200)}
        self.assertEqual(200, len(keys))
        for key in keys:
            parsed = uuid.UUID(key)
            self.assertEqual(4, parsed.version)
            self.assertEqual(uuid.RFC_4122, parsed.variant)
            self.assertEqual(str(parsed), key)
