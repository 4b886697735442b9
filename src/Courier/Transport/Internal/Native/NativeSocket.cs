using System.Text;
using Courier.Internal;

namespace Courier.Transport.Internal.Native;

internal sealed unsafe class NativeSocket(ZmqSocketHandle socket, ZmqSocketHandle? monitor, byte[]? disconnectNotice) : ITransportSocket
{
    private readonly Dictionary<int, byte[]> _peerByFd = [];

    internal ZmqSocketHandle Handle { get; } = socket;

    /// <summary>The PAIR socket receiving this socket's monitor events, when disconnect notices were asked for.</summary>
    internal ZmqSocketHandle? Monitor { get; } = monitor;

    public string Bind(string endpoint)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(endpoint);
        var target = endpoint.EndsWith(":0", StringComparison.Ordinal) ? endpoint[..^1] + "*" : endpoint;
        NativeTransport.Check(LibZmq.zmq_bind(Handle.DangerousGetHandle(), target), $"bind {endpoint}");
        if (!target.EndsWith(":*", StringComparison.Ordinal))
        {
            return endpoint;
        }

        var buffer = stackalloc byte[256];
        nuint length = 256;
        NativeTransport.Check(LibZmq.zmq_getsockopt(Handle.DangerousGetHandle(), LibZmq.OptLastEndpoint, buffer, &length), "ZMQ_LAST_ENDPOINT");
        var bound = Encoding.UTF8.GetString(buffer, (int)length - 1);
        // Keep the host as the caller wrote it (libzmq reports 0.0.0.0 as such anyway); take only the port.
        return $"{target[..^2]}:{bound[(bound.LastIndexOf(':') + 1)..]}";
    }

    public void Connect(string endpoint)
        => NativeTransport.Check(LibZmq.zmq_connect(Handle.DangerousGetHandle(), endpoint), $"connect {endpoint}");

    public bool TrySend(ReadOnlySpan<ReadOnlyMemory<byte>> frames)
    {
        var raw = Handle.DangerousGetHandle();
        for (var i = 0; i < frames.Length; i++)
        {
            var flags = LibZmq.DontWait | (i < frames.Length - 1 ? LibZmq.SendMore : 0);
            int sent;
            fixed (byte* data = frames[i].Span)
            {
                sent = LibZmq.zmq_send(raw, data, (nuint)frames[i].Length, flags);
            }

            // A multipart message is queued atomically: only its first frame can be refused.
            if (sent < 0)
            {
                return false;
            }
        }

        return true;
    }

    public bool TryReceive(List<byte[]> frames)
    {
        frames.Clear();
        if (Monitor is not null && TryReceiveDisconnect(frames))
        {
            return true;
        }

        var raw = Handle.DangerousGetHandle();
        ZmqMsg msg;
        _ = LibZmq.zmq_msg_init(&msg);
        try
        {
            if (LibZmq.zmq_msg_recv(&msg, raw, LibZmq.DontWait) < 0)
            {
                return false;
            }

            var sourceFd = Monitor is not null ? LibZmq.zmq_msg_get(&msg, LibZmq.MsgSourceFd) : -1;
            frames.Add(Copy(&msg));
            while (LibZmq.zmq_msg_more(&msg) != 0)
            {
                // The rest of a multipart message arrives with its first frame.
                _ = LibZmq.zmq_msg_recv(&msg, raw, LibZmq.DontWait);
                frames.Add(Copy(&msg));
            }

            if (sourceFd >= 0 && (!_peerByFd.TryGetValue(sourceFd, out var known) || !known.AsSpan().SequenceEqual(frames[0])))
            {
                _peerByFd[sourceFd] = frames[0];
            }

            return true;
        }
        finally
        {
            _ = LibZmq.zmq_msg_close(&msg);
        }
    }

    private bool TryReceiveDisconnect(List<byte[]> frames)
    {
        var raw = Monitor!.DangerousGetHandle();
        ZmqMsg msg;
        _ = LibZmq.zmq_msg_init(&msg);
        try
        {
            while (LibZmq.zmq_msg_recv(&msg, raw, LibZmq.DontWait) >= 0)
            {
                // Event frame: uint16 event, uint32 value (the connection's fd); then a frame with the endpoint.
                var data = (byte*)LibZmq.zmq_msg_data(&msg);
                var isEvent = LibZmq.zmq_msg_size(&msg) == 6;
                var eventId = isEvent ? *(ushort*)data : 0;
                var fd = isEvent ? *(int*)(data + 2) : -1;
                while (LibZmq.zmq_msg_more(&msg) != 0)
                {
                    _ = LibZmq.zmq_msg_recv(&msg, raw, LibZmq.DontWait);
                }

                if (eventId == LibZmq.EventDisconnected && _peerByFd.Remove(fd, out var peer))
                {
                    frames.Add(peer);
                    frames.Add(disconnectNotice!);
                    return true;
                }
            }

            return false;
        }
        finally
        {
            _ = LibZmq.zmq_msg_close(&msg);
        }
    }

    private static byte[] Copy(ZmqMsg* msg)
    {
        var size = (int)LibZmq.zmq_msg_size(msg);
        return size == 0 ? [] : new ReadOnlySpan<byte>(LibZmq.zmq_msg_data(msg), size).ToArray();
    }

    public void Dispose()
    {
        if (Monitor is not null && !Handle.IsClosed)
        {
            // Stop the monitor before anything closes: libzmq's I/O thread sends monitor events with a blocking
            // send, and a monitor PAIR without its reader would wedge that thread, and every socket it serves.
            _ = LibZmq.zmq_socket_monitor(Handle.DangerousGetHandle(), null, 0);
        }

        Handle.Dispose();
        Monitor?.Dispose();
    }
}
