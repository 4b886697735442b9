using Courier.Worker.Internal;

namespace Courier.Tests.Unit;

/// <summary>A worker's queue of requests waiting for a handler: arrival order, withdrawal, and its bound.</summary>
public sealed class WaitingQueueTests
{
    [Fact]
    public void Requests_leave_in_arrival_order_and_a_withdrawn_one_is_skipped_and_not_counted()
    {
        var queue = new WaitingQueue(room: 3);
        var calls = Enumerable.Range(0, 3).Select(_ => new WaitingCall(long.MaxValue)).ToArray();
        for (var i = 0; i < 3; i++)
        {
            queue.Add(Request(i, calls[i]));
        }

        Assert.True(queue.Withdraw(calls[1]));
        Assert.False(queue.Withdraw(calls[1])); // once
        Assert.Equal(2, queue.Count);
        Assert.Equal(2, queue.CountNow);

        Assert.True(queue.TryTake(out var first));
        Assert.True(queue.TryTake(out var second));
        Assert.False(queue.TryTake(out _));
        Assert.Equal((0UL, 2UL), (first.Address.Token, second.Address.Token));
        Assert.False(queue.Withdraw(calls[0])); // it left the queue: it runs, and its CANCEL fires its token instead
        Assert.Equal(0, queue.Count);
    }

    [Fact]
    public void A_broker_that_cancels_everything_it_sends_cannot_make_the_queue_grow()
    {
        const int room = 4;
        var queue = new WaitingQueue(room);
        for (var i = 0; i < 10_000; i++)
        {
            var call = new WaitingCall(long.MaxValue);
            queue.Add(Request(i, call));
            Assert.True(queue.Withdraw(call));
            Assert.True(queue.Entries <= 2 * room + 1, $"{queue.Entries} entries held after {i + 1} withdrawals");
        }

        Assert.Equal(0, queue.Count);
    }

    [Fact]
    public void The_earliest_deadline_is_known_without_a_walk_so_a_tick_walks_only_a_queue_with_one_due()
    {
        var queue = new WaitingQueue(room: 3);
        Assert.Equal(long.MaxValue, queue.EarliestDeadline);
        queue.Add(Request(0, new WaitingCall(50)));
        queue.Add(Request(1, new WaitingCall(30)));
        queue.Add(Request(2, null)); // from a peer before courier/5: no deadline
        Assert.Equal(30, queue.EarliestDeadline);

        // What the worker's tick does at 40: only the request due by then leaves, and the next deadline is the other's.
        var expired = new List<ulong>();
        queue.Drop(r => r.Call is { } call && call.Deadline <= 40, r => expired.Add(r.Address.Token));
        Assert.Equal([1UL], expired);
        Assert.Equal(50, queue.EarliestDeadline);

        while (queue.TryTake(out _))
        {
        }

        Assert.Equal(long.MaxValue, queue.EarliestDeadline);
    }

    [Fact]
    public void Dropping_takes_out_only_what_it_picks_and_keeps_the_order()
    {
        var queue = new WaitingQueue(room: 5);
        for (var i = 0; i < 5; i++)
        {
            queue.Add(Request(i, null));
        }

        var dropped = new List<ulong>();
        queue.Drop(r => r.Address.Token % 2 == 1, r => dropped.Add(r.Address.Token));

        Assert.Equal([1UL, 3UL], dropped);
        var left = new List<ulong>();
        while (queue.TryTake(out var request))
        {
            left.Add(request.Address.Token);
        }

        Assert.Equal([0UL, 2UL, 4UL], left);
    }

    [Fact]
    public void Dropping_never_hands_over_a_withdrawn_request_and_the_counts_stay_right()
    {
        var queue = new WaitingQueue(room: 4);
        var calls = Enumerable.Range(0, 4).Select(_ => new WaitingCall(long.MaxValue)).ToArray();
        for (var i = 0; i < 4; i++)
        {
            queue.Add(Request(i, calls[i]));
        }

        Assert.True(queue.Withdraw(calls[0]));
        Assert.True(queue.Withdraw(calls[3]));
        var dropped = new List<ulong>();
        queue.Drop(_ => true, r => dropped.Add(r.Address.Token));

        Assert.Equal([1UL, 2UL], dropped);
        Assert.Equal((0, 0, 0), (queue.Count, queue.CountNow, queue.Entries));
        Assert.False(queue.Withdraw(calls[1])); // dropped: it waits no more
    }

    private static WaitingRequest Request(int token, WaitingCall? call)
        => new(null!, new ReplyAddress((ulong)token, null), new([], default), default, call);
}
