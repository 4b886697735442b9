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

    public static ITransport Resolve(TransportOptions options, ILogger logger)
    {
        var wanted = options.Implementation == TransportImplementation.Auto ? AutoMeans : options.Implementation;
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

    [LoggerMessage(1, LogLevel.Warning, "Native transport unavailable ({Reason}); using the managed NetMQ transport")]
    private static partial void FallingBack(ILogger logger, string reason);
}
