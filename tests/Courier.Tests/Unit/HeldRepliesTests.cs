using System.Text;
using Courier.Transport.Internal;
using Courier.Worker.Internal;
using Microsoft.Extensions.Time.Testing;

namespace Courier.Tests.Unit;

/// <summary>
/// The replies a worker's socket refused: kept in order, sent before anything new, and bounded in bytes. Against a
/// stand-in socket that refuses while told to (the refusal itself is tested on real sockets in WorkerHeldReplyTests).
/// </summary>
public sealed class HeldRepliesTests
{
    [Fact]
    public void Refused_messages_leave_in_the_order_they_were_made_and_nothing_new_overtakes_them()
    {
        var socket = new RefusingSocket { Refusing = true };
        var held = new HeldReplies(socket, maxBytes: 1024 * 1024, maxReplies: () => 0, TimeProvider.System);

        Assert.Equal(HeldReplies.Outcome.Held, held.Send(Frames("a"), 1));
        Assert.Equal(HeldReplies.Outcome.Held, held.Send(Frames("b"), 3));
        Assert.Equal(4, held.Count);
        Assert.False(held.Retry());

        socket.Refusing = false;
        // Taken now, but behind "a" and "b": held, not sent past them.
        Assert.Equal(HeldReplies.Outcome.Held, held.Send(Frames("c"), 1));
        Assert.Empty(socket.Sent);

        Assert.True(held.Retry());
        Assert.Equal(["a", "b", "c"], socket.Sent);
        Assert.Equal(0, held.Count);
        Assert.True(held.IsEmpty);
        Assert.Equal(HeldReplies.Outcome.Sent, held.Send(Frames("d"), 1));
        Assert.Equal(["a", "b", "c", "d"], socket.Sent);
    }

    [Fact]
    public void A_retry_stops_at_the_first_refusal_and_keeps_the_rest_in_order()
    {
        var socket = new RefusingSocket { Refusing = true };
        var held = new HeldReplies(socket, maxBytes: 1024 * 1024, maxReplies: () => 0, TimeProvider.System);
        foreach (var body in new[] { "a", "b", "c" })
        {
            held.Send(Frames(body), 1);
        }

        socket.Refusing = false;
        socket.AcceptOnly = 1;
        Assert.False(held.Retry());
        Assert.Equal(["a"], socket.Sent);
        Assert.Equal(2, held.Count);

        socket.AcceptOnly = int.MaxValue;
        Assert.True(held.Retry());
        Assert.Equal(["a", "b", "c"], socket.Sent);
    }

    [Fact]
    public void Past_its_byte_bound_and_more_replies_than_the_broker_may_leave_unread_it_holds_no_more_and_says_so()
    {
        var socket = new RefusingSocket { Refusing = true };
        var held = new HeldReplies(socket, maxBytes: 3000, maxReplies: () => 2, TimeProvider.System);
        var body = new string('x', 1000);

        Assert.Equal(HeldReplies.Outcome.Held, held.Send(Frames(body), 1));
        Assert.Equal(HeldReplies.Outcome.Held, held.Send(Frames(body), 1));
        Assert.False(held.Overflowing);
        Assert.Equal(HeldReplies.Outcome.Held, held.Send(Frames(body), 1)); // 3 × (1,000 + 64) bytes: past 3,000
        Assert.True(held.Overflowing);
        Assert.Equal(HeldReplies.Outcome.Dropped, held.Send(Frames(body), 1));
        Assert.Equal(3, held.Count);

        Assert.Equal(3, held.Discard());
        Assert.True(held.IsEmpty);
        Assert.False(held.Overflowing);
    }

    [Fact]
    public void Past_its_byte_bound_it_still_holds_as_many_replies_as_the_broker_may_leave_unread()
    {
        // A broker that honours the worker's capacity (4 here) has at most that many requests out: it may read slowly,
        // and the worker waits for it however large the replies are, rather than end the connection and lose them.
        var socket = new RefusingSocket { Refusing = true };
        var held = new HeldReplies(socket, maxBytes: 1000, maxReplies: () => 4, TimeProvider.System);
        var body = new string('x', 1000);
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(HeldReplies.Outcome.Held, held.Send(Frames(body), 1));
            Assert.False(held.Overflowing);
        }

        Assert.Equal(HeldReplies.Outcome.Held, held.Send(Frames(body), 1)); // a fifth: more than the broker may have out
        Assert.True(held.Overflowing);
        Assert.Equal(HeldReplies.Outcome.Dropped, held.Send(Frames(body), 1));
    }

    [Fact]
    public void How_long_it_has_held_without_anything_leaving_starts_at_the_first_refusal_and_restarts_when_one_leaves()
    {
        var clock = new FakeTimeProvider();
        var socket = new RefusingSocket { Refusing = true };
        var held = new HeldReplies(socket, maxBytes: 1024 * 1024, maxReplies: () => 0, clock);
        Assert.Equal(TimeSpan.Zero, Stalled(held, clock));

        held.Send(Frames("a"), 1);
        clock.Advance(TimeSpan.FromSeconds(3));
        held.Send(Frames("b"), 1); // more held is no progress
        Assert.False(held.Retry());
        clock.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(TimeSpan.FromSeconds(5), Stalled(held, clock));

        socket.Refusing = false;
        socket.AcceptOnly = 1; // "a" leaves, "b" stays
        Assert.False(held.Retry());
        Assert.Equal(TimeSpan.Zero, Stalled(held, clock));
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(TimeSpan.FromSeconds(1), Stalled(held, clock));

        socket.AcceptOnly = int.MaxValue;
        Assert.True(held.Retry());
        Assert.Equal(TimeSpan.Zero, Stalled(held, clock));
    }

    [Fact]
    public void A_message_written_from_those_unwritten_in_the_socket_is_progress_though_nothing_held_left()
    {
        var clock = new FakeTimeProvider();
        var socket = new RefusingSocket { Pending = 3000, Refusing = true }; // sent, not yet written
        var held = new HeldReplies(socket, maxBytes: 1024 * 1024, maxReplies: () => 0, clock);
        Assert.Equal(TimeSpan.Zero, Stalled(held, clock)); // nothing held: unwritten bytes alone are within the budget

        held.Send(Frames("a"), 1); // too large to fit beside them, say
        clock.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(TimeSpan.FromSeconds(2), Stalled(held, clock));

        socket.Pending = 2000; // one of them written
        Assert.Equal(TimeSpan.Zero, Stalled(held, clock)); // though "a" is still held
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(TimeSpan.FromSeconds(1), Stalled(held, clock));

        socket.Pending = 5000; // more handed over (a command sent past the held replies) is no progress
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(TimeSpan.FromSeconds(2), Stalled(held, clock));
    }

    [Fact]
    public void What_it_holds_is_a_copy_not_the_callers_buffer()
    {
        var socket = new RefusingSocket { Refusing = true };
        var held = new HeldReplies(socket, maxBytes: 1024, maxReplies: () => 0, TimeProvider.System);
        var buffer = Encoding.ASCII.GetBytes("before");
        held.Send([buffer], 1);
        Encoding.ASCII.GetBytes("after!").CopyTo(buffer, 0); // the worker reuses its header and batch buffers

        socket.Refusing = false;
        held.Retry();
        Assert.Equal(["before"], socket.Sent);
    }

    private static TimeSpan Stalled(HeldReplies held, FakeTimeProvider clock)
        => TimeSpan.FromSeconds(held.StalledFor(clock.GetTimestamp()) / (double)clock.TimestampFrequency);

    private static ReadOnlyMemory<byte>[] Frames(string body) => [Encoding.ASCII.GetBytes(body)];

    /// <summary>Takes a message only while not refusing (and at most <see cref="AcceptOnly"/> more); records what it took.</summary>
    private sealed class RefusingSocket : ITransportSocket
    {
        public bool Refusing { get; set; }

        public int AcceptOnly { get; set; } = int.MaxValue;

        public long Pending { get; set; }

        public long LargestPendingBytes => Pending;

        public List<string> Sent { get; } = [];

        public string Bind(string endpoint) => throw new NotSupportedException();

        public void Connect(string endpoint) => throw new NotSupportedException();

        public bool TrySend(ReadOnlySpan<ReadOnlyMemory<byte>> frames)
        {
            if (Refusing || AcceptOnly == 0)
            {
                return false;
            }

            AcceptOnly--;
            Sent.Add(Encoding.ASCII.GetString(frames[^1].Span));
            return true;
        }

        public void Dispose()
        {
        }
    }
}
