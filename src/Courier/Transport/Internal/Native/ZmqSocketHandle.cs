using System.Runtime.InteropServices;

namespace Courier.Transport.Internal.Native;

/// <summary>Owns a libzmq socket; closing it is zmq_close.</summary>
internal sealed class ZmqSocketHandle : SafeHandle
{
    public ZmqSocketHandle(nint socket)
        : base(0, ownsHandle: true) => SetHandle(socket);

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle() => LibZmq.zmq_close(handle) == 0;
}
