using Courier.Internal;
using Courier.Transport;
using Courier.Transport.Internal;
using Courier.Transport.Internal.Native;
using Microsoft.Extensions.Logging.Abstractions;

namespace Courier.Tests.Unit;

public sealed class UnfinishedMessagesTests
{
    private static readonly MessageFrames Message = MessageOf("routing-id"u8.ToArray(), "hi"u8.ToArray());

    private static MessageFrames MessageOf(params byte[][] frames)
    {
        var message = new MessageFrames();
        foreach (var frame in frames)
        {
            message.Append(frame);
        }

        return message;
    }

    private static UnfinishedMessages Watch() =>
        new(64L << 20, NullLogger.Instance, ViolationLog.ForListener(NullLogger.Instance, TransportOptions.Default));

    [Fact]
    public void Messages_from_no_known_connection_are_ignored_however_often_they_come()
    {
        var watch = Watch();

        // An inproc peer's messages carry no descriptor; a connection gone may still have messages queued.
        watch.Finished(-1, UnfinishedMessages.WireBytes(Message, curve: false));
        watch.Finished(-1, UnfinishedMessages.WireBytes(Message, curve: false));
        watch.Finished(7, UnfinishedMessages.WireBytes(Message, curve: false));
        watch.Finished(7, UnfinishedMessages.WireBytes(Message, curve: false));
        watch.Accepted(7);
        watch.Finished(7, UnfinishedMessages.WireBytes(Message, curve: false));
        watch.Gone(7);
        watch.Finished(7, UnfinishedMessages.WireBytes(Message, curve: false));
        watch.Finished(-1, UnfinishedMessages.WireBytes(Message, curve: false));
    }

    [Theory]
    [InlineData(0, false, 2)]
    [InlineData(255, false, 257)]
    [InlineData(256, false, 265)]
    [InlineData(0, true, 35)]
    [InlineData(222, true, 257)]
    [InlineData(223, true, 265)]
    public void A_frame_is_counted_as_the_bytes_libzmq_puts_on_the_wire_for_it(int size, bool curve, long expected)
        => Assert.Equal(expected, UnfinishedMessages.WireBytes(size, curve));
}
