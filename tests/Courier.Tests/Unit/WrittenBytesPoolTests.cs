using Courier.Transport.Internal.NetMQ;
using NetMQ;

namespace Courier.Tests.Unit;

/// <summary>
/// The managed transport's write notification (<see cref="WrittenBytesPool"/>): a tracked message's bytes count against
/// its peer until NetMQ gives its buffer back, and only then; other messages' buffers touch no count.
/// </summary>
public sealed class WrittenBytesPoolTests
{
    [Fact]
    public void A_tracked_message_counts_its_bytes_until_its_buffer_comes_back()
    {
        var pool = WrittenBytesPool.Installed;
        var account = new NetMqPeerBacklog.Account();
        var msg = default(Msg);

        Assert.True(pool.InitTracked(ref msg, 2048, account, 2100));
        Assert.Equal(2048, msg.Size);
        Assert.Equal(2100, Volatile.Read(ref account.Pending));

        msg.Close(); // what NetMQ's encoder does once it has the bytes, or a pipe when it drops the message
        Assert.Equal(0, Volatile.Read(ref account.Pending));
    }

    [Fact]
    public void Buffers_of_untracked_messages_leave_the_counts_alone()
    {
        var pool = WrittenBytesPool.Installed;
        var account = new NetMqPeerBacklog.Account();
        var tracked = default(Msg);
        Assert.True(pool.InitTracked(ref tracked, 1500, account, 1500));

        for (var i = 0; i < 10; i++)
        {
            var other = default(Msg);
            other.InitPool(1500);
            other.Close();
        }

        Assert.Equal(1500, Volatile.Read(ref account.Pending));
        tracked.Close();
        Assert.Equal(0, Volatile.Read(ref account.Pending));
    }
}
