using Courier.Transport;
using Courier.Transport.Internal;
using Microsoft.Extensions.Logging;

namespace Courier.Security.Internal;

/// <summary>
/// A server's or broker's security, loaded from its <see cref="CourierSecurityOptions"/> when it is created: its own key
/// pair, the allow-list the ZAP handler admits by, and the policy its loop checks each request and READY against.
/// The ZAP handler's thread calls <see cref="Admits"/>; the loop calls <see cref="MayCall"/> and <see cref="MayServe"/>.
/// </summary>
internal sealed class ListenerSecurity : IDisposable
{
    private static readonly long LogEveryTicks = System.Diagnostics.Stopwatch.Frequency;
    private readonly AllowList? _allowList;
    private readonly PolicyFile? _policy;
    private readonly ILogger _logger;
    private readonly string _listener;
    private readonly string _domain;
    private long _denied;
    private long _deniedAtLastLog;
    private long _lastLog = long.MinValue / 2;
    private long _forbidden;
    private long _lastForbiddenLog = long.MinValue / 2;

    private ListenerSecurity(CourierSecurityOptions options, string listener, ITransport transport, ILogger logger)
    {
        _logger = logger;
        _listener = listener;
        var certificate = CurveCertificate.Load(options.CertificateFile!);
        if (certificate.SecretKey is null)
        {
            throw new InvalidDataException($"{options.CertificateFile}: no 'secret-key': give the secret certificate (NAME.key_secret), not the public one");
        }

        _allowList = options.AllowDirectory is { } directory ? new AllowList(
            directory, problem => SecurityLog.BadCertificate(logger, listener, problem), problem => SecurityLog.AllowListUnreadable(logger, listener, problem),
            problem => SecurityLog.AllowListNotChecked(logger, listener, problem)) : null;
        _policy = options.PolicyFile is { } policy ? new PolicyFile(policy, logger, listener) : null;
        _domain = ZapHandler.Register(transport, this);
        Curve = new CurveSettings(Decode(certificate.PublicKey), Decode(certificate.SecretKey), ServerKey: null, _domain);
    }

    /// <summary>What the listening socket is given: its key pair and ZAP domain.</summary>
    public CurveSettings Curve { get; }

    /// <summary>Handshakes refused so far.</summary>
    public long Denied => Interlocked.Read(ref _denied);

    /// <summary>Whether per-service rights are checked (a policy file is set).</summary>
    public bool ChecksRights => _policy is not null;

    /// <summary>
    /// Whether a worker's registration can lapse: a policy can withdraw a right, and an allow-list its key (a worker
    /// holds other clients' requests: one whose certificate is removed is cut, not left until it reconnects).
    /// </summary>
    public bool ChecksWorkers => _policy is not null || _allowList is not null;

    /// <summary>The security of a listener, or null when its options leave it off.</summary>
    public static ListenerSecurity? Create(CourierSecurityOptions options, string listener, ITransport transport, ILogger logger)
        => options.Enabled ? new ListenerSecurity(options, listener, transport, logger) : null;

    /// <summary>Whether a CURVE client with Z85 key <paramref name="key"/> is admitted (ZAP thread).</summary>
    public bool Admits(string key, string address)
    {
        if (_allowList is null || _allowList.NameOf(key) is not null)
        {
            return true;
        }

        Deny(address, $"key {key} is not in the allow-list");
        return false;
    }

    /// <summary>Counts a refused handshake and logs it, at most one line a second (a flood of attempts must not flood the log).</summary>
    public void Deny(string address, string reason)
    {
        var total = Interlocked.Increment(ref _denied);
        var now = System.Diagnostics.Stopwatch.GetTimestamp();
        var last = Interlocked.Read(ref _lastLog);
        if (now - last >= LogEveryTicks && Interlocked.CompareExchange(ref _lastLog, now, last) == last)
        {
            var since = total - Interlocked.Exchange(ref _deniedAtLastLog, total);
            SecurityLog.HandshakeDenied(_logger, _listener, address, reason, since, total);
        }
    }

    /// <summary>Whether the client whose ZAP User-Id is <paramref name="userId"/> may call <paramref name="service"/> (loop thread).</summary>
    public bool MayCall(string? userId, string service)
        => _policy is null || (userId is not null && _policy.Current.MayCall(userId, _allowList?.NameOf(userId), service));

    /// <summary>
    /// Whether the worker whose ZAP User-Id is <paramref name="userId"/> may serve <paramref name="service"/>: its key
    /// still in the allow-list, if one is set, and the right given by the policy, if one is set (loop thread).
    /// </summary>
    public bool MayServe(string? userId, string service)
    {
        var name = _allowList?.NameOf(userId ?? "");
        return (_allowList is null || name is not null) && (_policy is null || (userId is not null && _policy.Current.MayServe(userId, name, service)));
    }

    /// <summary>Requests answered 403 so far.</summary>
    public long Forbidden => _forbidden;

    /// <summary>Counts a request answered 403 and logs it, at most one line a second (loop thread).</summary>
    public void CallRefused(string? userId, string service)
    {
        _forbidden++;
        var now = System.Diagnostics.Stopwatch.GetTimestamp();
        if (now - _lastForbiddenLog >= LogEveryTicks)
        {
            _lastForbiddenLog = now;
            SecurityLog.CallForbidden(_logger, _listener, Describe(userId), service, _forbidden);
        }
    }

    /// <summary>Logs a worker refused a service; the caller rate-limits it (a worker may ignore DISCONNECT and send READY again).</summary>
    public void ServeRefused(string? userId, string service) => SecurityLog.ServeForbidden(_logger, _listener, Describe(userId), service);

    /// <summary>The certificate name of an admitted key, or the key itself, for logs.</summary>
    public string Describe(string? userId) => userId is null ? "(no key)" : _allowList?.NameOf(userId) is { } name ? $"{name} ({userId})" : userId;

    public void Dispose() => ZapHandler.Unregister(_domain);

    // The text is not in the message: it may be a secret key.
    internal static byte[] Decode(string z85) => Z85.TryDecode(z85, out _) ?? throw new InvalidDataException("a key that is not Z85");
}

/// <summary>A client's or worker's CURVE settings: its own key pair and the key of the server it connects to.</summary>
internal static class ConnectorSecurity
{
    /// <summary>The settings, or null when the options leave security off.</summary>
    public static CurveSettings? Load(CourierSecurityOptions options)
    {
        if (!options.Enabled)
        {
            return null;
        }

        var own = CurveCertificate.Load(options.CertificateFile!);
        if (own.SecretKey is null)
        {
            throw new InvalidDataException($"{options.CertificateFile}: no 'secret-key': give the secret certificate (NAME.key_secret), not the public one");
        }

        var server = CurveCertificate.Load(options.ServerCertificateFile!);
        if (server.SecretKey is not null)
        {
            // It would work (its public key is in it), and hide that the server's secret has been handed to its clients.
            throw new InvalidDataException($"{options.ServerCertificateFile}: a secret certificate: give the server's public one (NAME.key); its secret stays with the server");
        }

        return new CurveSettings(ListenerSecurity.Decode(own.PublicKey), ListenerSecurity.Decode(own.SecretKey), ListenerSecurity.Decode(server.PublicKey), ZapDomain: null);
    }
}
