"""Work done on a lead: logged and planned activities, and the follow-up cadence."""
