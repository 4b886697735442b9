using Courier.Transport;
using Courier.Transport.Internal.Native;
using Courier.Transport.Internal.NetMQ;
using Microsoft.Extensions.Logging;

namespace Courier.Transport.Internal;

/// <summary>Chooses the transport implementation for <see cref="TransportOptions.Implementation"/>.</summary>
internal static partial class TransportResolver
{
    private static readonly Lazy<(bool Loaded, string Reason)> Native = new(() => (LibZmq.TryLoad(out var reason), reason));
    private static int _fallbackLogged;

    /// <summary>What <see cref="TransportImplementation.Auto"/> means in this process; test runs pin it to cover both transports.</summary>
    internal static TransportImplementation AutoMeans { get; set; } = TransportImplementation.Auto;

    public static bool NativeAvailable => Native.Value.Loaded;

    /// <summary>Why security settings are refused on the managed transport.</summary>
    public const string ManagedRefusesSecurity =
        "CURVE security needs the native transport (libzmq 4.3, Debian's libzmq5): the managed transport (NetMQ) is refused " +
        "because its CURVE can be bypassed by a ZMTP 1.0/2.0 peer and it has no ZAP to authenticate peers. " +
        "Set Transport.Implementation to Native (or Auto with libzmq installed), or leave the Security settings out";

    /// <summary>
    /// The transport for <paramref name="options"/>. With <paramref name="secured"/> (CURVE settings given), only the
    /// native one: never silently insecure.
    /// </summary>
    public static ITransport Resolve(TransportOptions options, ILogger logger, bool secured = false)
    {
        var wanted = options.Implementation == TransportImplementation.Auto ? AutoMeans : options.Implementation;
        if (secured && (wanted == TransportImplementation.Managed || !Native.Value.Loaded))
        {
            throw new InvalidOperationException(wanted == TransportImplementation.Managed
                ? ManagedRefusesSecurity + "."
                : $"{ManagedRefusesSecurity}; libzmq is unavailable here: {Native.Value.Reason}.");
        }

        switch (wanted)
        {
            case TransportImplementation.Managed:
                return NetMqTransport.Instance;
            case TransportImplementation.Native:
                return Native.Value.Loaded
                    ? NativeTransport.Instance
                    : throw new InvalidOperationException($"The native transport needs libzmq 4.3 or later: {Native.Value.Reason}. Install libzmq5, or choose the managed transport.");
            default:
                if (Native.Value.Loaded)
                {
                    return NativeTransport.Instance;
                }

                if (Interlocked.Exchange(ref _fallbackLogged, 1) == 0)
                {
                    FallingBack(logger, Native.Value.Reason);
                }

                return NetMqTransport.Instance;
        }
    }

    // What the managed transport cannot bound is said here, where the choice was not the user's.
    [LoggerMessage(1, LogLevel.Warning, "Native transport unavailable ({Reason}); using the managed NetMQ transport, which checks HandshakeTimeout by bytes received (docs/guide.md, Limits against hostile peers)")]
    private static partial void FallingBack(ILogger logger, string reason);
}
