using NetMQ;
using NetMQ.Sockets;

namespace Courier.Tests.Infrastructure;

/// <summary>A ROUTER a test plays frame by frame: NetMQ's (<see cref="NetMqRawRouter"/>) or libzmq's (<see cref="NativeRouter"/>).</summary>
internal interface IRawRouter
{
    void Send(params byte[][] frames);

    /// <summary>One whole message, or false when none came within <paramref name="wait"/>.</summary>
    bool TryReceive(TimeSpan wait, out List<byte[]> frames);
}

internal sealed class NetMqRawRouter(RouterSocket socket) : IRawRouter
{
    public void Send(params byte[][] frames)
    {
        for (var i = 0; i < frames.Length - 1; i++)
        {
            socket.SendMoreFrame(frames[i]);
        }

        socket.SendFrame(frames[^1]);
    }

    public bool TryReceive(TimeSpan wait, out List<byte[]> frames)
    {
        frames = [];
        return socket.TryReceiveMultipartBytes(wait, ref frames!);
    }
}
