using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Courier.Transport.Internal.Zmtp;

/// <summary>
/// A non-blocking TCP connection's system calls (Linux), made straight from the loop's thread: no I/O thread between the
/// loop and the kernel, which is what a connection through libzmq pays for on every message.
/// </summary>
internal static unsafe partial class Tcp
{
    private const int SockStream = 1;
    private const int SockNonBlock = 0x800;
    private const int SockCloseOnExec = 0x80000;
    private const int SolSocket = 1;
    private const int SoError = 4;
    private const int IpProtoTcp = 6;
    private const int TcpNoDelay = 1;
    private const int MsgNoSignal = 0x4000;
    private const int MsgDontWait = 0x40;

    public const int EAgain = 11;
    public const int EInProgress = 115;
    public const int EIntr = 4;

    /// <summary>A connecting socket for <paramref name="address"/>, its connect begun: -1 with <paramref name="error"/> when it failed at once.</summary>
    public static int Connect(IPEndPoint address, out int error)
    {
        var family = address.AddressFamily == AddressFamily.InterNetworkV6 ? 10 : 2;
        var fd = socket(family, SockStream | SockNonBlock | SockCloseOnExec, IpProtoTcp);
        if (fd < 0)
        {
            error = Marshal.GetLastPInvokeError();
            return -1;
        }

        var one = 1;
        _ = setsockopt(fd, IpProtoTcp, TcpNoDelay, &one, sizeof(int));
        var storage = stackalloc byte[28];
        var length = Write(address, storage);
        if (connect(fd, storage, length) != 0)
        {
            error = Marshal.GetLastPInvokeError();
            if (error != EInProgress && error != EIntr)
            {
                _ = close(fd);
                return -1;
            }
        }

        error = 0;
        return fd;
    }

    /// <summary>A connect's outcome once the socket is writable: 0, or the errno it failed with.</summary>
    public static int ConnectError(int fd)
    {
        var error = 0;
        var length = (uint)sizeof(int);
        return getsockopt(fd, SolSocket, SoError, &error, &length) == 0 ? error : Marshal.GetLastPInvokeError();
    }

    /// <summary>Bytes sent, 0 when the kernel's buffer is full, or -errno.</summary>
    public static int Send(int fd, ReadOnlySpan<byte> data)
    {
        fixed (byte* bytes = data)
        {
            var sent = send(fd, bytes, data.Length, MsgNoSignal | MsgDontWait);
            if (sent >= 0)
            {
                return (int)sent;
            }

            var error = Marshal.GetLastPInvokeError();
            return error is EAgain or EIntr ? 0 : -error;
        }
    }

    /// <summary>Frames a gathered send takes at most: a header and a body each, well under any system's IOV_MAX.</summary>
    public const int MaxGatheredFrames = 16;

    /// <summary>
    /// <paramref name="frames"/> sent as ZMTP frames in one system call, each preceded by its header, straight from where
    /// they are (no copy into a queue first): bytes sent, 0 when the kernel's buffer is full, or -errno.
    /// </summary>
    public static long SendGathered(int fd, ReadOnlySpan<ReadOnlyMemory<byte>> frames)
    {
        if (frames.Length > MaxGatheredFrames)
        {
            throw new ArgumentOutOfRangeException(nameof(frames), $"at most {MaxGatheredFrames} frames");
        }

        var headers = stackalloc byte[MaxGatheredFrames * 9];
        var vectors = stackalloc IoVector[MaxGatheredFrames * 2];
        Span<System.Buffers.MemoryHandle> pins = new System.Buffers.MemoryHandle[frames.Length];
        try
        {
            for (var i = 0; i < frames.Length; i++)
            {
                var header = headers + (i * 9);
                var size = ZmtpWire.WriteHeader(new Span<byte>(header, 9), frames[i].Length, i < frames.Length - 1 ? ZmtpWire.More : (byte)0);
                pins[i] = frames[i].Pin();
                vectors[2 * i] = new IoVector { Base = header, Length = (nuint)size };
                vectors[(2 * i) + 1] = new IoVector { Base = pins[i].Pointer, Length = (nuint)frames[i].Length };
            }

            var message = new MessageHeader { Vectors = vectors, Count = (nuint)(frames.Length * 2) };
            var sent = sendmsg(fd, &message, MsgNoSignal | MsgDontWait);
            if (sent >= 0)
            {
                return sent;
            }

            var error = Marshal.GetLastPInvokeError();
            return error is EAgain or EIntr ? 0 : -error;
        }
        finally
        {
            foreach (var pin in pins)
            {
                pin.Dispose();
            }
        }
    }

    /// <summary>Bytes read; 0 at the end of the stream; -EAGAIN when nothing waits; another -errno when it failed.</summary>
    public static int Receive(int fd, Span<byte> into)
    {
        fixed (byte* bytes = into)
        {
            var read = recv(fd, bytes, into.Length, MsgDontWait);
            if (read >= 0)
            {
                return (int)read;
            }

            var error = Marshal.GetLastPInvokeError();
            return error == EIntr ? -EAgain : -error;
        }
    }

    public static void Close(int fd) => _ = close(fd);

    /// <summary>Ends the writing half (<c>shutdown(SHUT_WR)</c>): the peer reads to the end of the stream, and may still write.</summary>
    public static void ShutdownWrite(int fd) => _ = shutdown(fd, 1);

    /// <summary>A sockaddr_in or sockaddr_in6 for <paramref name="address"/>; its length.</summary>
    private static uint Write(IPEndPoint address, byte* storage)
    {
        new Span<byte>(storage, 28).Clear();
        var port = (ushort)address.Port;
        storage[2] = (byte)(port >> 8);
        storage[3] = (byte)port;
        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            *(ushort*)storage = 10;
            address.Address.TryWriteBytes(new Span<byte>(storage + 8, 16), out _);
            *(uint*)(storage + 24) = (uint)address.Address.ScopeId;
            return 28;
        }

        *(ushort*)storage = 2;
        address.Address.TryWriteBytes(new Span<byte>(storage + 4, 4), out _);
        return 16;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int socket(int domain, int type, int protocol);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int connect(int fd, byte* address, uint length);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setsockopt(int fd, int level, int name, void* value, uint length);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int getsockopt(int fd, int level, int name, void* value, uint* length);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint send(int fd, byte* buffer, nint length, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint sendmsg(int fd, MessageHeader* message, int flags);

    /// <summary>struct iovec.</summary>
    private struct IoVector
    {
        public void* Base;
        public nuint Length;
    }

    /// <summary>struct msghdr (no address, no control data).</summary>
    private struct MessageHeader
    {
        public void* Name;
        public uint NameLength;
        public IoVector* Vectors;
        public nuint Count;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint recv(int fd, byte* buffer, nint length, int flags);

    [LibraryImport("libc")]
    private static partial int close(int fd);

    [LibraryImport("libc")]
    private static partial int shutdown(int fd, int how);
}
