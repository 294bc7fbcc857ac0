/** A step thread for tests that cannot even start (as if its module were missing a dependency). */
throw new Error('broken step thread module');
