using Courier.Serving.Internal;

namespace Courier.Tests.Unit;

/// <summary>
/// The running calls of a server or worker, whose tokens fire at their deadlines: a client picks each deadline (its
/// budget), so the list must cost the same whatever order they come in.
/// </summary>
public sealed class HandlerCallsTests
{
    [Fact]
    public void Calls_with_falling_deadlines_are_added_without_a_walk_and_a_tick_before_any_is_due_visits_none()
    {
        // Kept in deadline order, each of these walked the whole list: 60 million steps for one batch of 11,000.
        var calls = new HandlerCalls();
        var added = Enumerable.Range(0, 11_000).Select(i => new HandlerCall(1_000_000 - i)).ToArray();
        foreach (var call in added)
        {
            calls.Add(call);
        }

        calls.FireDue(now: 0);
        Assert.Equal(0, calls.Visits);

        calls.FireDue(now: 1_000_000 - 10_999); // the last added falls due: one walk
        Assert.Equal(11_000, calls.Visits);
        Assert.Equal(CallCancel.Deadline, added[^1].Reason);
        Assert.All(added[..^1], call => Assert.Equal(CallCancel.None, call.Reason));
        Dispose(added);
    }

    [Fact]
    public void Ticks_fire_exactly_the_calls_due_whatever_the_order_of_adds_removals_and_cancels()
    {
        var random = new Random(1234);
        var calls = new HandlerCalls();
        var linked = new List<HandlerCall>();
        var all = new List<HandlerCall>();
        for (long now = 0; now < 3_000; now += 10)
        {
            for (var i = random.Next(6); i > 0; i--)
            {
                var call = new HandlerCall(random.Next(4) == 0 ? long.MaxValue : now + random.Next(1, 400));
                calls.Add(call);
                linked.Add(call);
                all.Add(call);
            }

            if (linked.Count > 0 && random.Next(3) == 0)
            {
                var done = linked[random.Next(linked.Count)];
                calls.Remove(done);
                linked.Remove(done);
            }

            if (linked.Count > 0 && random.Next(10) == 0)
            {
                linked[random.Next(linked.Count)].Fire(CallCancel.Caller);
            }

            var firedBefore = all.Where(c => c.Reason == CallCancel.Deadline).ToHashSet();
            var expected = linked.Where(c => c.Reason == CallCancel.None && c.Deadline <= now).ToHashSet();
            calls.FireDue(now);

            var firedNow = all.Where(c => c.Reason == CallCancel.Deadline && !firedBefore.Contains(c)).ToHashSet();
            Assert.True(expected.SetEquals(firedNow), $"at {now}: {expected.Count} due, {firedNow.Count} fired");
        }

        Dispose(all);
    }

    private static void Dispose(IEnumerable<HandlerCall> calls)
    {
        foreach (var call in calls)
        {
            call.Dispose();
        }
    }
}
