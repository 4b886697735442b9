using Courier.Transport.Internal.NetMQ;
using NetMQ;

namespace Courier.Tests.Unit;

/// <summary>
/// The managed transport's write notification (<see cref="WrittenBytesPool"/>): a tracked message's bytes count against
/// its peer until NetMQ gives its buffer back, once, and only then; other buffers touch no count.
/// </summary>
public sealed class WrittenBytesPoolTests
{
    /// <summary>A message of <paramref name="size"/> bytes counting <paramref name="bytes"/> against a fresh account.</summary>
    private static Msg Tracked(int size, long bytes, out NetMqPeerBacklog.Account account)
    {
        account = new NetMqPeerBacklog.Account();
        WrittenBytesPool.Installed.Register(account);
        var msg = default(Msg);
        Assert.True(WrittenBytesPool.Installed.InitTracked(ref msg, size, account, bytes));
        return msg;
    }

    [Fact]
    public void A_tracked_message_counts_its_bytes_until_its_buffer_comes_back()
    {
        var msg = Tracked(2048, 2100, out var account);
        Assert.Equal(2048, msg.Size);
        Assert.Equal(2100, Volatile.Read(ref account.Pending));

        msg.Close(); // what NetMQ's encoder does once it has the bytes, or a pipe when it drops the message
        Assert.Equal(0, Volatile.Read(ref account.Pending));
    }

    [Fact]
    public void Buffers_of_untracked_messages_leave_the_counts_alone()
    {
        var tracked = Tracked(1500, 1500, out var account);

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

    [Fact]
    public void A_buffer_given_back_twice_counts_once()
    {
        // A recycling pool hands a buffer out again: its next return must not take the bytes off a second time.
        var msg = Tracked(4096, 4096, out var account);
#pragma warning disable CS0618 // Msg.Data: the very buffer NetMQ gives back
        var buffer = msg.Data!;
#pragma warning restore CS0618
        msg.Close();

        WrittenBytesPool.Installed.Return(buffer);
        Assert.Equal(0, Volatile.Read(ref account.Pending));
    }

    [Fact]
    public void A_buffer_of_an_account_forgotten_meanwhile_lowers_no_count()
    {
        var msg = Tracked(1024, 1024, out var account);
        WrittenBytesPool.Installed.Unregister(account);

        msg.Close();
        Assert.Equal(1024, Volatile.Read(ref account.Pending));
    }
}
