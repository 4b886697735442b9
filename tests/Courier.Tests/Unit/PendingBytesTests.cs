using Courier.Transport.Internal;

namespace Courier.Tests.Unit;

/// <summary>Which replies count against a peer's unread-bytes budget, and for how much: frames count for their slots.</summary>
public sealed class PendingBytesTests
{
    [Fact]
    public void A_message_of_many_empty_frames_counts_for_what_each_frame_holds()
    {
        var frames = Enumerable.Repeat(ReadOnlyMemory<byte>.Empty, 20).ToArray();

        Assert.True(PendingBytes.Counts(frames, out var total));
        Assert.Equal(20 * PendingBytes.PerFrame, total);
    }

    [Fact]
    public void A_small_reply_is_left_to_the_high_water_mark()
    {
        ReadOnlyMemory<byte>[] frames = [new byte[5], ReadOnlyMemory<byte>.Empty, new byte[20], new byte[64]];

        Assert.False(PendingBytes.Counts(frames, out var total));
        Assert.Equal((4 * PendingBytes.PerFrame) + 89, total);
    }
}
