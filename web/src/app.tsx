import { useCallback, useEffect, useMemo, useState } from 'preact/hooks';
import type { PublicUser } from '../../src/client/index.js';
import { AuthScreen } from './auth-screen.js';
import { ChatScreen } from './chat-screen.js';
import { createClient, describeError, resumeSession } from './session.js';
import { describeSignInError, takeSignInLanding } from './sso.js';

/** Signed out → the sign-in screen; signed in → the chat. One SDK client for the page's whole life. */
export function App() {
  const client = useMemo(createClient, []);
  const [user, setUser] = useState<PublicUser | null>(null);
  const [restoring, setRestoring] = useState(true);
  const [notice, setNotice] = useState<string | null>(null);

  useEffect(() => {
    // Back from the identity provider: its login code signs in; its error is said on the sign-in screen.
    const landing = takeSignInLanding();
    if (landing?.error !== undefined) setNotice(describeSignInError(landing.error));
    const start =
      landing?.code === undefined
        ? resumeSession(client)
        : client.signInWithCode(landing.code).catch((err: unknown) => {
            setNotice(describeError(err));
            return null;
          });
    void start.then((restored) => {
      setUser(restored);
      setRestoring(false);
    });
  }, [client]);

  const signedIn = useCallback((u: PublicUser) => {
    setNotice(null);
    setUser(u);
  }, []);
  const signedOut = useCallback((why: string | null) => {
    setNotice(why);
    setUser(null);
  }, []);

  if (restoring) {
    return (
      <p class="splash" role="status">
        Loading agentgate…
      </p>
    );
  }
  if (user === null) return <AuthScreen client={client} onSignedIn={signedIn} notice={notice} />;
  return <ChatScreen client={client} user={user} onSignedOut={signedOut} />;
}
