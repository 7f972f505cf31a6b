// The console's frame: sign-in until a user is signed in, then a header naming who they are
// (organisation, id, role) and at which hospital's node, a menu of the pages their role can use,
// and the page.
import { Anchor, AppShell, Badge, Burger, Button, Center, Group, Loader, NavLink, Stack, Text, Title } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { useEffect, useRef, type ReactNode } from 'react';
import { Link, Redirect, Route, Switch, useLocation } from 'wouter';
import { SignInPage } from '../pages/SignIn.tsx';
import { ErrorAlert } from './errors.tsx';
import { useDocumentTitle } from './hooks.ts';
import { mayOpen, PAGES, pagesFor } from './pages.ts';
import { useSessionApi } from './session.tsx';
import { documentTitle, pageNameAt } from './title.ts';

function NotForYourRole({ label, role, roles }: { label: string; role: string; roles: readonly string[] }): ReactNode {
  return (
    <Stack>
      <Title order={2}>{label}</Title>
      <ErrorAlert
        title="Not available for your role"
        error={
          new Error(`The ${label} page is for ${roles.join(', ')}; you are signed in as a ${role}. The node would refuse these actions for your certificate.`)
        }
      />
    </Stack>
  );
}

function Shell(): ReactNode {
  const { state, signOut } = useSessionApi();
  const [opened, { toggle, close }] = useDisclosure(false);
  const [location] = useLocation();
  const main = useRef<HTMLElement>(null);
  /** Show the page from its top with the focus in it, as a page loaded anew would be. */
  const focusPage = (): void => {
    window.scrollTo(0, 0);
    main.current?.focus({ preventScroll: true });
  };
  // A link inside a page (a patient's records, a record) replaces the page, and the focused link
  // with it: the focus would fall back to the document's start. It goes to the new page instead,
  // shown from its top. Focus that is still somewhere is left where it is.
  const shownBefore = useRef(false);
  useEffect(() => {
    // Not on the page's first showing (a reload): there Tab starts at "Skip to content", as anywhere.
    if (!shownBefore.current) {
      shownBefore.current = true;
      return;
    }
    const focused = document.activeElement;
    if (focused !== null && focused !== document.body) return;
    focusPage();
  }, [location]);
  // '/' and '/sign-in' redirect to the role's first page at once: no title of their own.
  const pageName = pageNameAt(location, PAGES) ?? (location === '/' || location === '/sign-in' ? null : 'Page not found');
  useDocumentTitle(documentTitle(pageName, state.kind === 'signed-in' ? state.session.node.org : null));
  if (state.kind !== 'signed-in') return null;
  const { me, node } = state.session;
  const mine = pagesFor(me.role);
  const who = `${me.org}/${/^[0-9a-f]{32,}$/.test(me.id) ? `${me.id.slice(0, 12)}…` : me.id}`;
  return (
    <AppShell header={{ height: 60 }} navbar={{ width: 240, breakpoint: 'md', collapsed: { mobile: !opened } }} padding="md">
      <a className="ml-skip" href="#main">
        Skip to content
      </a>
      <AppShell.Header>
        {/* Narrow screens (a tablet, a patient's phone): below md (992 px) the menu folds behind
            the burger — a page's tables get the whole width of a tablet, not half of it — and the
            hospital's name moves into it, who is signed in below sm (768 px), the role below xs
            (576 px); what stays never shrinks or clips. */}
        <Group h="100%" px="md" justify="space-between" wrap="nowrap" gap="sm">
          <Group wrap="nowrap" gap="sm" style={{ flexShrink: 0 }}>
            <Burger opened={opened} onClick={toggle} hiddenFrom="md" size="sm" aria-label="Menu" />
            <Title order={1} size="h3">
              MedLedger
            </Title>
            <Text size="sm" c="dimmed" visibleFrom="md">
              console of {node.org} ({node.nodeId})
            </Text>
          </Group>
          <Group wrap="nowrap" gap="xs" style={{ minWidth: 0 }}>
            <Text size="sm" data-testid="whoami" title={`${me.org}/${me.id}`} truncate="end" visibleFrom="sm">
              {who}
            </Text>
            <Badge variant="light" aria-label={`role ${me.role}`} style={{ flexShrink: 0, overflow: 'visible' }} visibleFrom="xs">
              {me.role}
            </Badge>
            <Button size="xs" variant="default" onClick={() => void signOut()} style={{ flexShrink: 0 }}>
              Sign out
            </Button>
          </Group>
        </Group>
      </AppShell.Header>
      {/* Folded behind the burger (below md), the menu is out of the tab order too (console.css):
          a keyboard user would otherwise tab through links that are off screen. */}
      <AppShell.Navbar p="xs" aria-label="Pages" className="ml-navbar" data-closed={opened ? undefined : true}>
        <Stack gap={0} px="sm" pb="xs" hiddenFrom="md">
          <Text size="sm" hiddenFrom="sm" title={`${me.org}/${me.id}`} data-testid="whoami-menu">
            {who} · {me.role}
          </Text>
          <Text size="xs" c="dimmed">
            console of {node.org} ({node.nodeId})
          </Text>
        </Stack>
        <nav>
          {mine.map((p) => (
            <NavLink
              key={p.path}
              component={Link}
              href={p.path}
              label={p.label}
              title={p.description}
              active={location === p.path || location.startsWith(`${p.path}/`)}
              onClick={() => {
                // A page chosen from the menu opens at its top with the focus in it, as a page
                // loaded anew would: not left on a link of a menu that has just folded away.
                close();
                focusPage();
              }}
            />
          ))}
        </nav>
        {me.org !== node.org ? (
          <Text size="xs" c="orange" mt="md">
            You belong to {me.org} but this is {node.org}'s node: reading records works only through your own hospital's console.
          </Text>
        ) : null}
      </AppShell.Navbar>
      <AppShell.Main id="main" ref={main} tabIndex={-1}>
        <Switch>
          {PAGES.map((p) => (
            <Route key={p.path} path={p.path} nest>
              {mayOpen(p, me.role) ? <p.component /> : <NotForYourRole label={p.label} role={me.role} roles={p.roles === 'all' ? [] : p.roles} />}
            </Route>
          ))}
          <Route path="/sign-in">
            <Redirect to={mine[0]?.path ?? '/network'} />
          </Route>
          <Route path="/">
            <Redirect to={mine[0]?.path ?? '/network'} />
          </Route>
          <Route>
            <Stack>
              <Title order={2}>Page not found</Title>
              <Text>
                There is no page at {location}.{' '}
                <Anchor component={Link} href="/">
                  Go to the start page
                </Anchor>
                .
              </Text>
            </Stack>
          </Route>
        </Switch>
      </AppShell.Main>
    </AppShell>
  );
}

function CannotStart({ error }: { error: string }): ReactNode {
  useDocumentTitle(documentTitle('The console cannot start', null));
  return (
    <Center h="100vh" p="md">
      <Stack align="center">
        <ErrorAlert title="The console cannot start" error={new Error(error)} />
        <Button onClick={() => window.location.reload()}>Try again</Button>
      </Stack>
    </Center>
  );
}

export function App(): ReactNode {
  const { state } = useSessionApi();
  if (state.kind === 'loading') {
    return (
      <Center h="100vh">
        <Loader role="status" aria-label="Loading" />
      </Center>
    );
  }
  if (state.kind === 'failed') return <CannotStart error={state.error} />;
  if (state.kind === 'signed-out') return <SignInPage node={state.node} />;
  return <Shell />;
}
