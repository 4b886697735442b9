using System.Reflection;
using System.Runtime.InteropServices;

namespace Courier.Transport.Internal.Native;

/// <summary>The slice of libzmq 4.3's C API that the native transport uses (source-generated P/Invoke).</summary>
internal static unsafe partial class LibZmq
{
    private const string Library = "libzmq";

    public const int Dealer = 5;
    public const int Router = 6;
    public const int Pair = 0;

    public const int DontWait = 1;
    public const int SendMore = 2;
    public const short PollIn = 1;
    public const int OptFd = 14;
    public const int OptEvents = 15;

    public const int OptLinger = 17;
    public const int OptReconnectInterval = 18;
    public const int OptReconnectIntervalMax = 21;
    public const int OptMaxMsgSize = 22;
    public const int OptSendHwm = 23;
    public const int OptReceiveHwm = 24;
    public const int OptLastEndpoint = 32;
    public const int OptCurveServer = 47;
    public const int OptCurvePublicKey = 48;
    public const int OptCurveSecretKey = 49;
    public const int OptCurveServerKey = 50;
    public const int OptZapDomain = 55;
    public const int OptHandshakeInterval = 66;
    public const int OptRouterMandatory = 33;
    public const int OptHeartbeatInterval = 75;
    public const int OptHeartbeatTtl = 76;
    public const int OptHeartbeatTimeout = 77;
    public const int OptTcpKeepalive = 34;
    public const int OptTcpKeepaliveCount = 35;
    public const int OptTcpKeepaliveIdle = 36;
    public const int OptTcpKeepaliveInterval = 37;

    /// <summary>zmq_msg_get: the file descriptor of the connection a message came from (deprecated, still in 4.3).</summary>
    public const int MsgSourceFd = 2;

    public const int EventAccepted = 0x0020;
    public const int EventDisconnected = 0x0200;
    public const int Eagain = 11;
    public const int Eintr = 4;

    static LibZmq() => NativeLibrary.SetDllImportResolver(typeof(LibZmq).Assembly, Resolve);

    /// <summary>Whether libzmq 4.3 or later loads on this machine.</summary>
    public static bool TryLoad(out string reason)
    {
        try
        {
            int major, minor, patch;
            zmq_version(&major, &minor, &patch);
            if (major < 4 || (major == 4 && minor < 3))
            {
                reason = $"libzmq {major}.{minor}.{patch} is older than 4.3";
                return false;
            }

            reason = $"libzmq {major}.{minor}.{patch}";
            return true;
        }
        catch (DllNotFoundException ex)
        {
            reason = "libzmq not found (" + ex.Message.Split('\n')[0] + ")";
            return false;
        }
        catch (EntryPointNotFoundException ex)
        {
            reason = "libzmq is unusable: " + ex.Message;
            return false;
        }
    }

    private static nint Resolve(string name, Assembly assembly, DllImportSearchPath? path)
    {
        if (name != Library)
        {
            return 0;
        }

        // Runtime images have only the versioned name; development machines also have the plain one.
        foreach (var candidate in new[] { "libzmq.so.5", "libzmq.so", "libzmq.5.dylib", "libzmq.dylib", "libzmq" })
        {
            if (NativeLibrary.TryLoad(candidate, assembly, path, out var handle))
            {
                return handle;
            }
        }

        return 0;
    }

    // libzmq processes its mailbox inside sends, receives and ZMQ_EVENTS, polling an eventfd, and poll(2) is never
    // restarted after a signal handler: a signal landing there fails the call with EINTR. The runtime signals threads
    // to suspend them for a collection, and an application may take signals of its own. EINTR is neither "refused" nor
    // "nothing to read": taken for either, a message was dropped or a socket left unread (found under load: one request
    // in a run answered only by its retry, 5 s later). libzmq fails before it takes the frame, so the same call again is
    // right, for any frame of a message.

    private static long _interrupted;

    /// <summary>Calls made again after a signal interrupted them, in this process (for tests).</summary>
    public static long Interrupted => Volatile.Read(ref _interrupted);

    /// <summary>Whether a call that failed was interrupted by a signal, and so is to be made again.</summary>
    private static bool WasInterrupted()
    {
        if (zmq_errno() != Eintr)
        {
            return false;
        }

        Interlocked.Increment(ref _interrupted);
        return true;
    }

    /// <summary>zmq_send, again while a signal interrupts it.</summary>
    public static int zmq_send(nint socket, void* buffer, nuint length, int flags)
    {
        int result;
        while ((result = zmq_send_once(socket, buffer, length, flags)) < 0 && WasInterrupted())
        {
        }

        return result;
    }

    /// <summary>zmq_msg_send, again while a signal interrupts it (the frame is still the caller's when it fails).</summary>
    public static int zmq_msg_send(ZmqMsg* message, nint socket, int flags)
    {
        int result;
        while ((result = zmq_msg_send_once(message, socket, flags)) < 0 && WasInterrupted())
        {
        }

        return result;
    }

    /// <summary>zmq_msg_recv, again while a signal interrupts it.</summary>
    public static int zmq_msg_recv(ZmqMsg* message, nint socket, int flags)
    {
        int result;
        while ((result = zmq_msg_recv_once(message, socket, flags)) < 0 && WasInterrupted())
        {
        }

        return result;
    }

    /// <summary>zmq_getsockopt, again while a signal interrupts it (ZMQ_EVENTS processes the mailbox too).</summary>
    public static int zmq_getsockopt(nint socket, int option, void* value, nuint* length)
    {
        int result;
        while ((result = zmq_getsockopt_once(socket, option, value, length)) < 0 && WasInterrupted())
        {
        }

        return result;
    }

    // EHOSTUNREACH is 113 on Linux and 65 on the BSDs and macOS (where the resolver also finds libzmq.5.dylib).
    private static readonly int Ehostunreach = OperatingSystem.IsLinux() ? 113 : 65;

    /// <summary>
    /// Why the send that just failed was refused, read from errno before any other libzmq call: EAGAIN, a full queue
    /// (a non-blocking send at the high-water mark); EHOSTUNREACH, a peer that is gone (a ROUTER with mandatory
    /// routing); anything else (the socket closing) says nothing of the peer.
    /// </summary>
    public static SendRefusal Refusal() => zmq_errno() switch
    {
        Eagain => SendRefusal.QueueFull,
        var code when code == Ehostunreach => SendRefusal.PeerGone,
        _ => SendRefusal.None,
    };

    public static string LastError()
    {
        var code = zmq_errno();
        return $"{Marshal.PtrToStringUTF8(zmq_strerror(code))} (errno {code})";
    }

    [LibraryImport(Library)]
    public static partial void zmq_version(int* major, int* minor, int* patch);

    [LibraryImport(Library)]
    public static partial nint zmq_ctx_new();

    [LibraryImport(Library)]
    public static partial int zmq_curve_keypair(byte* z85PublicKey, byte* z85SecretKey);

    [LibraryImport(Library)]
    public static partial int zmq_curve_public(byte* z85PublicKey, byte* z85SecretKey);

    /// <summary>A message's metadata property (the ZAP handler's <c>User-Id</c>); null when it has none. Never blocks.</summary>
    [LibraryImport(Library)]
    [SuppressGCTransition]
    public static partial byte* zmq_msg_gets(ZmqMsg* message, byte* property);

    [LibraryImport(Library)]
    public static partial nint zmq_socket(nint context, int type);

    [LibraryImport(Library)]
    public static partial int zmq_close(nint socket);

    [LibraryImport(Library)]
    public static partial int zmq_setsockopt(nint socket, int option, void* value, nuint length);

    [LibraryImport(Library, EntryPoint = "zmq_getsockopt")]
    private static partial int zmq_getsockopt_once(nint socket, int option, void* value, nuint* length);

    [LibraryImport(Library, EntryPoint = "zmq_bind", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int zmq_bind_once(nint socket, string endpoint);

    /// <summary>zmq_bind, again while a signal interrupts it (libzmq processes its mailbox first).</summary>
    public static int zmq_bind(nint socket, string endpoint)
    {
        int result;
        while ((result = zmq_bind_once(socket, endpoint)) < 0 && WasInterrupted())
        {
        }

        return result;
    }

    [LibraryImport(Library, EntryPoint = "zmq_connect", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int zmq_connect_once(nint socket, string endpoint);

    /// <summary>zmq_connect, again while a signal interrupts it (libzmq processes its mailbox first).</summary>
    public static int zmq_connect(nint socket, string endpoint)
    {
        int result;
        while ((result = zmq_connect_once(socket, endpoint)) < 0 && WasInterrupted())
        {
        }

        return result;
    }

    [LibraryImport(Library, EntryPoint = "zmq_socket_monitor", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int zmq_socket_monitor_once(nint socket, string? endpoint, int events);

    /// <summary>zmq_socket_monitor, again while a signal interrupts it (libzmq processes its mailbox first).</summary>
    public static int zmq_socket_monitor(nint socket, string? endpoint, int events)
    {
        int result;
        while ((result = zmq_socket_monitor_once(socket, endpoint, events)) < 0 && WasInterrupted())
        {
        }

        return result;
    }

    // Only ever called with ZMQ_DONTWAIT (send and receive below): they queue or take a message and return, never
    // wait, so they too skip the GC transition, which cost about as much as the call on the hot path.
    [LibraryImport(Library, EntryPoint = "zmq_send")]
    [SuppressGCTransition]
    private static partial int zmq_send_once(nint socket, void* buffer, nuint length, int flags);

    [LibraryImport(Library)]
    [SuppressGCTransition] // reads a field or frees: never blocks, and the transition cost as much as the call
    public static partial int zmq_msg_init(ZmqMsg* message);

    /// <summary>A frame over <paramref name="data"/>, which libzmq hands to <paramref name="free"/> once written or dropped.</summary>
    [LibraryImport(Library)]
    [SuppressGCTransition] // allocates its small header and returns: calls nothing back
    public static partial int zmq_msg_init_data(ZmqMsg* message, void* data, nuint size, delegate* unmanaged[Cdecl]<void*, void*, void> free, void* hint);

    // With the GC transition, unlike zmq_send: sending or closing a frame made by zmq_msg_init_data may call its free
    // callback, managed code, on this thread (libzmq drops the frame when its peer's pipe went away mid-message).
    [LibraryImport(Library, EntryPoint = "zmq_msg_send")]
    private static partial int zmq_msg_send_once(ZmqMsg* message, nint socket, int flags);

    /// <summary>zmq_msg_close for a frame of ours with a free callback: with the GC transition, for the same reason.</summary>
    [LibraryImport(Library, EntryPoint = "zmq_msg_close")]
    public static partial int zmq_msg_close_tracked(ZmqMsg* message);

    [LibraryImport(Library, EntryPoint = "zmq_msg_recv")]
    [SuppressGCTransition]
    private static partial int zmq_msg_recv_once(ZmqMsg* message, nint socket, int flags);

    [LibraryImport(Library)]
    [SuppressGCTransition] // reads a field or frees: never blocks, and the transition cost as much as the call
    public static partial int zmq_msg_close(ZmqMsg* message);

    /// <summary>Moves a frame's content to another (the source is left empty); calls nothing back.</summary>
    [LibraryImport(Library)]
    [SuppressGCTransition] // reads a field or frees: never blocks, and the transition cost as much as the call
    public static partial int zmq_msg_move(ZmqMsg* destination, ZmqMsg* source);

    [LibraryImport(Library)]
    [SuppressGCTransition] // reads a field or frees: never blocks, and the transition cost as much as the call
    public static partial void* zmq_msg_data(ZmqMsg* message);

    [LibraryImport(Library)]
    [SuppressGCTransition] // reads a field or frees: never blocks, and the transition cost as much as the call
    public static partial nuint zmq_msg_size(ZmqMsg* message);

    [LibraryImport(Library)]
    [SuppressGCTransition] // reads a field or frees: never blocks, and the transition cost as much as the call
    public static partial int zmq_msg_more(ZmqMsg* message);

    [LibraryImport(Library)]
    [SuppressGCTransition] // reads a field or frees: never blocks, and the transition cost as much as the call
    public static partial int zmq_msg_get(ZmqMsg* message, int property);

    [LibraryImport(Library)]
    [SuppressGCTransition] // reads a field or frees: never blocks, and the transition cost as much as the call
    public static partial int zmq_errno();

    [LibraryImport(Library)]
    public static partial nint zmq_strerror(int error);
}

/// <summary>zmq_msg_t: 64 opaque bytes, pointer-aligned.</summary>
[StructLayout(LayoutKind.Sequential, Size = 64)]
internal struct ZmqMsg
{
    private readonly long _first;
}

/// <summary>The few libc calls the loop needs: its wake-up eventfd, and poll(2) over that and the sockets' ZMQ_FDs.</summary>
internal static unsafe partial class LibC
{
    /// <summary>poll(2)'s event bits beyond POLLIN (which equals <see cref="LibZmq.PollIn"/>).</summary>
    public const short PollOut = 0x004;
    public const short PollErr = 0x008;
    public const short PollHup = 0x010;

    public const int EventFdNonBlocking = 0x800;
    public const int EventFdCloseOnExec = 0x80000;

    [LibraryImport("libc", SetLastError = true)]
    public static partial int eventfd(uint initial, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint write(int fd, void* buffer, nint count);

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint read(int fd, void* buffer, nint count);

    [LibraryImport("libc")]
    public static partial int close(int fd);

    /// <summary>shutdown(2)'s SHUT_RDWR.</summary>
    public const int ShutReadWrite = 2;

    /// <summary>shutdown(2): ends a connection whose descriptor libzmq owns and closes itself once it sees the end.</summary>
    [LibraryImport("libc", SetLastError = true)]
    public static partial int shutdown(int fd, int how);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int getrlimit(int resource, RLimit* limit);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int getsockopt(int fd, int level, int name, void* value, uint* length);

    /// <summary>ioctl(2) with an int result: FIONREAD, the bytes waiting unread in a socket's receive queue.</summary>
    [LibraryImport("libc", SetLastError = true)]
    public static partial int ioctl(int fd, nuint request, int* value);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int poll(PollFd* fds, nuint count, int timeout);
}

/// <summary>struct rlimit (Linux, 64-bit).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct RLimit
{
    public ulong Current;
    public ulong Maximum;
}

/// <summary>struct pollfd.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct PollFd
{
    public int Fd;
    public short Events;
    public short ReturnedEvents;
}
