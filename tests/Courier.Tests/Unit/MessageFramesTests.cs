using Courier.Internal;
using Courier.Tests.Infrastructure;
using Courier.Transport.Internal;

namespace Courier.Tests.Unit;

public sealed class MessageFramesTests
{
    [Fact]
    public void Frames_keep_their_bytes_when_the_buffer_grows_under_later_ones()
    {
        var message = new MessageFrames();
        message.Append("first"u8);
        message.Append([]);
        message.Append(Enumerable.Repeat((byte)7, 5000).ToArray()); // past the initial buffer: it is reallocated
        message.Append("last"u8);

        Assert.Equal(4, message.Count);
        Assert.Equal("first"u8.ToArray(), message[0].ToArray());
        Assert.Equal(0, message.Length(1));
        Assert.Equal(5000, message[2].Length);
        Assert.All(message[2].ToArray(), b => Assert.Equal(7, b));
        Assert.Equal("last"u8.ToArray(), message.Memory(3).ToArray());
    }

    [Fact]
    public void Clear_starts_a_new_message_and_copies_taken_before_stay_intact()
    {
        var message = new MessageFrames();
        message.Append("abc"u8);
        var copies = new List<byte[]>();
        message.CopyTo(copies);
        var kept = message.ToArray(0);

        message.Clear();
        message.Append("xyz"u8);

        Assert.Equal(1, message.Count);
        Assert.Equal("xyz"u8.ToArray(), message[0].ToArray());
        Assert.Equal("abc"u8.ToArray(), kept);
        Assert.Equal("abc"u8.ToArray(), Assert.Single(copies));
    }

    [Fact]
    public void A_frame_past_the_count_is_refused()
    {
        var message = new MessageFrames();
        message.Append("a"u8);

        Assert.Throws<ArgumentOutOfRangeException>(() => message.Length(1));
        message.Clear();
        Assert.Throws<ArgumentOutOfRangeException>(() => message.ToArray(0));
    }

    [Fact]
    public void Many_frames_and_a_large_one_are_held_and_the_next_message_starts_small_again()
    {
        var message = new MessageFrames();
        for (var i = 0; i < 100; i++)
        {
            message.Append([(byte)i]);
        }

        message.Append(new byte[1 << 20]);
        Assert.Equal(101, message.Count);
        Assert.Equal(99, message[99][0]);

        message.Clear();
        message.Append("small"u8);
        Assert.Equal("small"u8.ToArray(), message[0].ToArray());
    }

    [Fact]
    public void Routing_ids_are_found_by_span_as_by_array()
    {
        var ids = new Dictionary<byte[], string>(ByteArrayComparer.Instance) { [[0, 1, 2, 3, 4]] = "worker" };
        var lookup = ids.GetAlternateLookup<ReadOnlySpan<byte>>();

        Assert.True(lookup.TryGetValue(stackalloc byte[] { 0, 1, 2, 3, 4 }, out var found));
        Assert.Equal("worker", found);
        Assert.False(lookup.TryGetValue(stackalloc byte[] { 0, 1, 2, 3, 5 }, out _));
    }

    [Fact]
    public void A_message_larger_than_an_array_can_hold_is_refused_not_wrapped_round()
    {
        var message = new MessageFrames();
        message.Append("routing id"u8);

        Assert.Throws<InvalidOperationException>(() => message.Append(Array.MaxLength));
        Assert.Equal(1, message.Count);
    }

    [Fact]
    public void A_frame_handed_over_by_the_transport_is_disposed_at_the_next_message_unless_detached()
    {
        var message = new MessageFrames();
        var kept = new TestFrame([1, 2, 3]);
        var dropped = new TestFrame([4, 5]);
        message.Append("id"u8);
        message.AppendOwned(kept);
        message.AppendOwned(dropped);

        Assert.True(message.IsOwned(1));
        Assert.False(message.IsOwned(0));
        Assert.Equal([4, 5], message.Memory(2).ToArray());
        Assert.Equal(2, message.Length(2));
        Assert.Same(kept, message.Detach(1));
        Assert.Throws<InvalidOperationException>(() => message.Detach(1)); // once
        Assert.Throws<InvalidOperationException>(() => message.Detach(0)); // only what the transport handed over

        message.Clear();
        message.Append("next"u8);

        Assert.Equal(0, kept.Disposals);
        Assert.Equal(1, dropped.Disposals);
        Assert.False(message.IsOwned(0));
        Assert.Equal("next"u8.ToArray(), message[0].ToArray());
    }
}
