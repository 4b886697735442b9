using Courier.Transport.Internal.Native;

namespace Courier.Tests.Infrastructure;

/// <summary>
/// A libzmq ROUTER bound to a free loopback port, for a test to play a peer with (a fake broker that stops reading, say),
/// whatever transport the code under test uses. Not thread-safe: one test thread calls it.
/// </summary>
internal sealed unsafe class NativeRouter : IRawRouter, IDisposable
{
    private const int OptSendBuffer = 11; // ZMQ_SNDBUF
    private const int OptReceiveBuffer = 12; // ZMQ_RCVBUF
    private readonly ZmqSocketHandle _socket;

    /// <param name="receiveHighWatermark">Messages queued before the ROUTER stops reading its connections.</param>
    /// <param name="kernelBuffer">SO_RCVBUF and SO_SNDBUF of its connections; 0 for the system's.</param>
    public NativeRouter(int receiveHighWatermark = 1000, int kernelBuffer = 0)
    {
        _socket = NativeTransport.CreateRaw(LibZmq.Router);
        try
        {
            NativeTransport.SetInt(_socket, LibZmq.OptLinger, 0);
            NativeTransport.SetInt(_socket, LibZmq.OptReceiveHwm, receiveHighWatermark);
            NativeTransport.SetInt(_socket, LibZmq.OptRouterMandatory, 1); // a send to a peer that is gone fails the test rather than vanishing
            if (kernelBuffer > 0)
            {
                NativeTransport.SetInt(_socket, OptReceiveBuffer, kernelBuffer);
                NativeTransport.SetInt(_socket, OptSendBuffer, kernelBuffer);
            }

            NativeTransport.Check(LibZmq.zmq_bind(_socket.DangerousGetHandle(), "tcp://127.0.0.1:*"), "bind");
            var endpoint = NativeSocket.LastEndpoint(_socket);
            Port = int.Parse(endpoint[(endpoint.LastIndexOf(':') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch
        {
            _socket.Dispose();
            throw;
        }
    }

    public int Port { get; }

    /// <summary>Sends, or returns false when the peer is gone (mandatory routing) or its queue is full.</summary>
    public bool TrySend(params byte[][] frames)
    {
        for (var i = 0; i < frames.Length; i++)
        {
            var flags = LibZmq.DontWait | (i < frames.Length - 1 ? LibZmq.SendMore : 0);
            fixed (byte* data = frames[i])
            {
                if (LibZmq.zmq_send(_socket.DangerousGetHandle(), data, (nuint)frames[i].Length, flags) < 0)
                {
                    return false; // only the first frame of a message can be refused
                }
            }
        }

        return true;
    }

    public void Send(params byte[][] frames)
    {
        for (var i = 0; i < frames.Length; i++)
        {
            var flags = LibZmq.DontWait | (i < frames.Length - 1 ? LibZmq.SendMore : 0);
            fixed (byte* data = frames[i])
            {
                Assert.True(LibZmq.zmq_send(_socket.DangerousGetHandle(), data, (nuint)frames[i].Length, flags) >= 0, "zmq_send: " + LibZmq.LastError());
            }
        }
    }

    public bool TryReceive(TimeSpan wait, out List<byte[]> frames)
    {
        frames = [];
        var until = DateTime.UtcNow + wait;
        ZmqMsg message;
        while (true)
        {
            _ = LibZmq.zmq_msg_init(&message);
            if (LibZmq.zmq_msg_recv(&message, _socket.DangerousGetHandle(), LibZmq.DontWait) >= 0)
            {
                break;
            }

            var error = LibZmq.zmq_errno();
            _ = LibZmq.zmq_msg_close(&message);
            if (error != LibZmq.Eagain)
            {
                Assert.Fail($"zmq_msg_recv: errno {error}");
            }

            if (DateTime.UtcNow >= until)
            {
                return false;
            }

            Thread.Sleep(1);
        }

        // The rest of a multipart message is there already: libzmq delivers it whole.
        while (true)
        {
            frames.Add(new ReadOnlySpan<byte>(LibZmq.zmq_msg_data(&message), (int)LibZmq.zmq_msg_size(&message)).ToArray());
            var more = LibZmq.zmq_msg_more(&message) != 0;
            _ = LibZmq.zmq_msg_close(&message);
            if (!more)
            {
                return true;
            }

            _ = LibZmq.zmq_msg_init(&message);
            Assert.True(LibZmq.zmq_msg_recv(&message, _socket.DangerousGetHandle(), LibZmq.DontWait) >= 0, "the rest of a message: " + LibZmq.LastError());
        }
    }

    public void Dispose() => _socket.Dispose();
}
