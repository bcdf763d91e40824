// The app's words in English, Traditional Chinese (Hong Kong, strings-zh-hant.js) and Simplified
// Chinese (strings-zh-hans.js, converted from the Traditional by the platform). The choice is
// remembered in localStorage (a preference, nothing personal).
import ZH_HANT from './strings-zh-hant.js';
import ZH_HANS from './strings-zh-hans.js';

const STRINGS = {
  en: {
    appName: 'iAM Smart',
    skip: 'Skip to content',
    largerText: 'Larger text',
    normalText: 'Normal text',
    lock: 'Lock',
    tabHome: 'Home',
    tabScan: 'Scan',
    tabInbox: 'Inbox',
    tabMe: 'Me',
    noJs: 'iAM Smart needs JavaScript to run in your browser.',
    loading: 'Loading…',
    working: 'Working…',
    back: 'Back',
    cancel: 'Cancel',
    close: 'Close',
    continue: 'Continue',
    tryAgain: 'Try again',
    save: 'Save',
    saved: 'Saved.',
    yes: 'Yes',
    no: 'No',
    // welcome and setting up
    welcomeTitle: 'Welcome to iAM Smart',
    setUpFirst: 'A service asked you to approve something in iAM Smart. Set up iAM Smart on this device first, then start again on the service’s page.',
    deviceComputer: 'Computer',
    welcomeIntro: 'One digital identity for Hong Kong online services: sign in, fill in forms and sign documents from your phone.',
    haveCode: 'I have an activation code',
    haveCodeHelp: 'You registered at a counter, a kiosk or a post office, or your other phone showed you a code.',
    registerMe: 'Register with my HKID card',
    registerMeHelp: 'Takes about 3 minutes: your card details, a photo of your card and a selfie.',
    activateTitle: 'Activate iAM Smart',
    activateIntro: 'Type the activation code you were given, or scan its QR code.',
    codeLabel: 'Activation code',
    codeHint: '12 letters and numbers, for example K7Q2-M9XP-4T6W',
    codeInvalid: 'An activation code has 12 letters and numbers. Check what you typed.',
    scanCode: 'Scan the QR code',
    deviceNameLabel: 'Name of this phone',
    deviceNameHint: 'So you can tell your phones apart, for example “Mum’s Android”.',
    protectTitle: 'How will you confirm it is you?',
    protectIntro: 'iAM Smart asks you to confirm it is you each time you open the app, approve a sign-in or sign a document.',
    protectPasskey: 'My fingerprint, face or screen lock (recommended)',
    protectPasskeyHelp: 'Your phone checks it is you. Nothing about your fingerprint or face leaves your phone.',
    protectPin: 'A 6-digit iAM Smart PIN',
    protectPinHelp: 'For phones without a screen lock. After 5 wrong PINs in a row this phone stops working and must be set up again.',
    pinLabel: 'Choose a 6-digit PIN',
    pinAgainLabel: 'Type the PIN again',
    pinMismatch: 'The two PINs are not the same.',
    pinShape: 'The PIN must be 6 digits.',
    pinWeak: 'Choose a PIN that is harder to guess than repeated or consecutive digits (not 111111 or 123456).',
    setUp: 'Set up iAM Smart',
    settingUp: 'Setting up iAM Smart on this phone…',
    passkeyUnsupported: 'This browser cannot use your fingerprint, face or screen lock for iAM Smart. Choose a PIN instead.',
    passkeyCancelled: 'Your fingerprint, face or screen lock was not confirmed. Try again, or choose a PIN.',
    doneTitle: 'iAM Smart is ready',
    doneIntro: 'You can now sign in to online services with this phone.',
    doneRebound: 'Your account has moved to this phone. Your other phones no longer work with iAM Smart.',
    waitingTitle: 'Waiting for your other phone',
    donePending: 'Your account is on another phone. It moves to this phone on {t}, unless someone refuses from that phone; we have told it. To move at once, visit a registration counter.',
    goHome: 'Go to my iAM Smart',
    // registration
    registerTitle: 'Register with your HKID card',
    registerStep: 'Step {n} of 3',
    cardTitle: 'Your Hong Kong Identity Card',
    cardIntro: 'Type the details exactly as printed on your card.',
    hkidLabel: 'HKID number',
    hkidHint: 'For example A123456(3)',
    nameEnLabel: 'English name',
    nameEnHint: 'As printed, for example CHAN, Tai Man',
    nameZhLabel: 'Chinese name (if on your card)',
    dobLabel: 'Date of birth',
    cardPhotoTitle: 'A photo of your card',
    cardPhotoIntro: 'Put the card on a dark, plain surface in good light. Make sure all four corners show and nothing shines on it.',
    takeCardPhoto: 'Take or choose a photo of the card',
    selfieTitle: 'A photo of your face',
    selfieIntro: 'Face the camera in good light, without glasses, hat or mask. Hold the phone at eye level.',
    takeSelfie: 'Take a selfie',
    retake: 'Take it again',
    photoTaken: 'Photo ready.',
    photoTooBig: 'This photo is too large. Take it again at a lower resolution.',
    photoNotImage: 'This file is not a photo (JPEG or PNG).',
    registering: 'Checking your card with the Immigration Department and matching your face. This can take up to half a minute…',
    registrationNoFace: 'Registering on the phone needs a face check, which this platform does not offer at the moment. Register at a post office counter or a kiosk instead: you will get an activation code for this app.',
    imagesNotKept: 'Your card photo and selfie are used for this check only and deleted straight after.',
    fieldRequired: 'Fill this in.',
    // lock
    lockedTitle: 'iAM Smart is locked',
    lockedIntro: 'Confirm it is you to continue.',
    unlock: 'Unlock',
    unlockPasskey: 'Unlock with fingerprint, face or screen lock',
    enterPin: 'Your iAM Smart PIN',
    attemptsLeft: '{n} wrong PINs left before this phone stops working with iAM Smart.',
    lockedAfterIdle: 'iAM Smart locked itself after a while without use.',
    // home
    hello: 'Hello, {name}',
    levelBasic: 'iAM Smart',
    levelPlus: 'iAM Smart+',
    waiting: 'Waiting for you',
    nothingWaiting: 'Nothing is waiting. To sign in to a service, scan the QR code on its sign-in page.',
    scanQr: 'Scan a QR code',
    expiresIn: 'Expires in {t}',
    expired: 'Expired',
    matchCode: 'Match code',
    kind_login: 'Sign in',
    kind_step_up: 'Sign in with a face check',
    kind_eme: 'Fill in a form (e-ME)',
    kind_data_consent: 'Get your records',
    kind_sign: 'Sign a document',
    kind_passkey_add: 'Add a passkey',
    kind_other: 'Request',
    myProfile: 'My details (e-ME)',
    myConsents: 'Data, consents and dealings',
    myDevices: 'My phones',
    mySettings: 'Settings and account',
    unread: '{n} unread',
    // scanning
    scanTitle: 'Scan a QR code',
    scanIntro: 'Point the camera at the QR code on the service’s page.',
    scanStarting: 'Starting the camera…',
    scanLooking: 'Looking for a QR code…',
    scanChoosePhoto: 'Choose a photo of the QR code',
    scanTypeCode: 'Type an activation code instead',
    scanDenied: 'iAM Smart may not use the camera. Allow the camera for this site in your browser’s settings, or choose a photo of the QR code.',
    scanNoCamera: 'No camera was found. Choose a photo of the QR code instead.',
    scanFailed: 'The camera could not be started. Choose a photo of the QR code instead.',
    scanNothing: 'No QR code was found in this picture. Try again with the whole code in view.',
    notOurCode: 'This QR code is not an iAM Smart code. Only scan the codes on iAM Smart sign-in, form and signing pages.',
    activationCodeWhenSetUp: 'This is an activation code for setting up a phone. This phone is set up already.',
    // requests
    reqLoginTitle: 'Sign in to {service}?',
    reqStepUpTitle: 'Sign in to {service} with a face check?',
    reqEmeTitle: 'Share your details with {service}?',
    reqDataTitle: 'Let {service} get your records?',
    reqSignTitle: 'Sign a document for {service}?',
    reqPasskeyTitle: 'Add a passkey to your account?',
    passkeyAddExplain: 'A browser where you are signed in to your iAM Smart account wants a passkey. With it, that computer or phone can sign you in to services without this app. Approve only if you are adding a passkey yourself, right now, and the browser shows the same code.',
    reqOtherTitle: 'Request from {service}',
    matchHelp: 'Check that the page you came from shows the same code and the same service name. If not, deny: someone may be trying to trick you.',
    fromService: 'Service',
    messageLabel: 'Message from the service',
    selfRegistered: 'This service registered itself with iAM Smart: the operator has not checked who runs it. Approve only if you know the service.',
    afterLoginAsks: 'After you sign in, the service asks for:',
    afterLoginNote: 'Nothing is shared until you agree on the next page.',
    formLabel: 'Form',
    shareTheseTitle: 'Information to share',
    neededByService: 'needed by the service',
    optionalField: 'you may leave this out',
    notGiven: '(not given)',
    purposeLabel: 'Purpose',
    recordsLabel: 'Records',
    fetchOnce: 'Once',
    fetchRecurring: 'Regularly, up to {n} times a day',
    howOftenLabel: 'How often',
    validForLabel: 'Consent valid for',
    days: '{n} days',
    keptForLabel: 'The service keeps the data for',
    documentLabel: 'Document',
    departmentLabel: 'Department',
    signReasonLabel: 'Reason written in the signature',
    signLocationLabel: 'Place written in the signature',
    formatLabel: 'Signature',
    formatPades: 'PDF signature (PAdES)',
    formatCades: 'Signature over the document’s fingerprint (CAdES)',
    digestLabel: 'Document fingerprint (SHA-256)',
    signLegal: 'Your digital signature has the same legal effect as your handwritten one (Electronic Transactions Ordinance, Cap. 553).',
    faceNeeded: 'This needs a face check: you will take a selfie, which is compared with your record and then deleted.',
    approve: 'Approve',
    share: 'Share',
    signIt: 'Sign',
    deny: 'Deny',
    approving: 'Sending your answer…',
    signing: 'Signing…',
    approvedTitle: 'Done',
    approvedLogin: 'You are signing in to {service}. Go back to the service’s page.',
    approvedEme: 'Your details are being sent to {service}.',
    approvedData: '{service} may now get the records you agreed to. You can pause or withdraw this consent at any time in “Data, consents and dealings”.',
    approvedSign: 'The document for {service} is signed.',
    approvedPasskey: 'Approved. Go back to the browser to finish adding the passkey.',
    deniedTitle: 'Denied',
    deniedText: '{service} has been told that you said no.',
    returning: 'Taking you back to the browser…',
    returnNow: 'Go back now',
    reqExpired: 'This request has expired. Start again on the service’s page.',
    reqClosed: 'This request was answered already, or it has expired.',
    reqNotFound: 'This request does not exist, is for someone else, or has been cancelled.',
    mismatch: 'This answer does not fit the request any more. Scan the code again.',
    needSigningCert: 'To sign, this phone first needs your signing certificate.',
    getSigningCert: 'Get my signing certificate',
    needPlus: 'Signing documents needs iAM Smart+. Upgrade in Settings with a face check, or at a counter.',
    networkLost: 'We could not reach iAM Smart, so we do not know whether your answer arrived. Check your connection and try again: a request is only ever answered once.',
    checkAgain: 'Check and try again',
    // profile
    profileTitle: 'My details (e-ME)',
    profileIntro: 'Services can ask for these to fill in forms. You decide each time what to share.',
    verifiedTitle: 'Confirmed by the Immigration Department',
    verifiedNote: 'To change these, contact the Immigration Department.',
    editableTitle: 'Details you keep up to date',
    f_hkid: 'HKID number',
    f_prefix: 'Title',
    f_name_en: 'English name',
    f_name_zh: 'Chinese name',
    f_birthdate: 'Date of birth',
    f_gender: 'Gender',
    f_marital_status: 'Marital status',
    f_home_tel: 'Home telephone',
    f_office_tel: 'Office telephone',
    f_mobile: 'Mobile number',
    f_email: 'Email address',
    f_residential_address: 'Residential address',
    f_postal_address: 'Postal address',
    f_education_level: 'Education level',
    countryCode: 'Country code',
    number: 'Number',
    a_flat: 'Flat / room', a_floor: 'Floor', a_block: 'Block', a_building: 'Building', a_estate: 'Estate or village',
    a_street_number: 'Street number', a_street: 'Street', a_district: 'District', a_region: 'Region',
    r_HK: 'Hong Kong Island', r_KLN: 'Kowloon', r_NT: 'New Territories',
    g_M: 'Male', g_F: 'Female', g_X: 'Other',
    p_Mr: 'Mr', p_Mrs: 'Mrs', p_Ms: 'Ms', p_Miss: 'Miss', p_Dr: 'Dr', p_Prof: 'Prof',
    m_single: 'Single', m_married: 'Married', m_divorced: 'Divorced', m_widowed: 'Widowed', m_separated: 'Separated',
    e_primary: 'Primary', e_secondary: 'Secondary', e_post_secondary: 'Post-secondary', e_degree: 'Degree', e_postgraduate: 'Postgraduate',
    notSet: 'Not given',
    choose: 'Choose…',
    // consents and dealings
    consentsTitle: 'Data, consents and dealings',
    loginConsentsTitle: 'Details you let services have at sign-in',
    noLoginConsents: 'You have not let any service keep your details.',
    withdraw: 'Withdraw',
    withdrawn: 'Withdrawn.',
    withdrawAsk: 'Withdraw what you let {service} have? It can no longer read your details with its current sign-in.',
    dataConsentsTitle: 'Records services may get from departments',
    noDataConsents: 'No service may get records about you.',
    status_ACTIVE: 'Active', status_PAUSED: 'Paused', status_REVOKED: 'Withdrawn', status_EXPIRED: 'Expired',
    status_PENDING: 'Waiting for you', status_DENIED: 'Denied',
    pause: 'Pause', resume: 'Resume', revoke: 'Withdraw',
    revokeAsk: 'Withdraw this consent for good? {service} can no longer get these records.',
    receipt: 'Download the receipt',
    fetchesLabel: 'Records fetched',
    validUntil: 'Valid until',
    dealingsTitle: 'Your dealings with each service',
    noDealings: 'Nothing yet.',
    exportAll: 'Download all my data',
    exportHelp: 'Everything iAM Smart holds about you, as a file (JSON).',
    // devices
    devicesTitle: 'My phones',
    thisPhone: 'this phone',
    boundAt: 'Set up {t}',
    lastUsed: 'Last used {t}',
    neverUsed: 'Not used yet',
    revokedAt: 'Removed {t}',
    verifyPasskey: 'Fingerprint, face or screen lock',
    verifyPin: 'iAM Smart PIN',
    verifyNone: 'Protected on the device only',
    remove: 'Remove',
    removeAsk: 'Remove “{name}”? It stops working with iAM Smart at once, and its signing certificate is revoked.',
    removeThisAsk: 'Remove this phone? It stops working with iAM Smart at once. To use iAM Smart again you need a new activation code.',
    removed: 'Removed.',
    waitingPhones: 'Waiting to take over your account',
    waitingUntil: 'Takes over your account on {t}, and this phone stops working. If this is not you, refuse it now.',
    refuse: 'Refuse',
    refuseAsk: 'Refuse “{name}”? It never gets your account. If you asked for it, you can register it again or visit a counter.',
    refused: 'Refused. Your account stays on this phone.',
    addPhone: 'Add a phone or move to a new one',
    addPhoneIntro: 'On the new phone, open iAM Smart, choose “I have an activation code” and scan this code (or type it). It works once, for {m} minutes.',
    addPhoneAfter: 'When the new phone works, you can remove this one here.',
    dealGave: '{provider} gave the service your records',
    dealAsked: 'The service asked {provider} for your records',
    dealNoRecord: '{provider} holds no record of you',
    deal_login: 'Signed in',
    deal_eme: 'Form filled in with e-ME',
    deal_exchange: 'A department gave the service your records',
    deal_consent: 'Consent given',
    deal_consent_change: 'Consent changed',
    deal_signature: 'Document signed',
    deal_notification: 'Sent you a notification',
    deal_notifications_on: 'You turned notifications on',
    deal_notifications_off: 'You turned notifications off',
    deal_data_release: 'Personal data provided',
    alarmTitle: 'Warning: iAM Smart’s public record has been changed',
    alarmIntro: 'iAM Smart writes every sign-in, every release of your data and every signature into a public record that nobody can change without it showing. This phone keeps track of that record, and it has now been shown one with entries removed or rewritten.',
    alarmAdvice: 'Do not approve anything with iAM Smart until this is explained: your approvals might not be recorded honestly. Tell the iAM Smart team, with the details below. This phone keeps the evidence.',
    alarmDetails: 'Details for the iAM Smart team',
    alarmCheckAgain: 'Check again',
    'err_log-alarm': 'iAM Smart’s public record has been changed in a way that should never happen, so this app will not approve anything. Do not approve anything until this is explained.',
    revokedTitle: 'This phone no longer works with iAM Smart',
    revokedIntro: 'It was removed (from another phone, by a new activation, or after too many wrong PINs). Set it up again with a new activation code.',
    startOver: 'Set up again',
    // notifications
    inboxTitle: 'Notifications',
    noNotifications: 'No notifications. Services you allow can send you updates here.',
    markAllRead: 'Mark all as read',
    unreadMark: 'Unread',
    openLink: 'Open the service’s page',
    notifySettingsTitle: 'Which services may notify you',
    notifySettingsNone: 'Services you use appear here.',
    notifyOn: 'On', notifyOff: 'Off',
    // settings
    settingsTitle: 'Settings and account',
    languageLabel: 'Language',
    textSizeLabel: 'Text size',
    accountLevel: 'Account',
    upgradeTitle: 'Upgrade to iAM Smart+',
    upgradeIntro: 'iAM Smart+ lets you sign documents digitally. Take a selfie: it is compared with your record at the Immigration Department and deleted straight after.',
    upgradeNoFace: 'Upgrading on the phone needs a face check, which this platform does not offer at the moment. Upgrade at a counter instead.',
    upgraded: 'You now have iAM Smart+.',
    signingTitle: 'Digital signing',
    signingNone: 'This phone has no signing certificate yet.',
    signingHave: 'Signing certificate {serial}',
    signingRenew: 'Get a new signing certificate',
    signingGot: 'This phone can now sign documents.',
    lockNow: 'Lock iAM Smart now',
    closeTitle: 'Close my account',
    closeIntro: 'Your phones stop working at once, services can no longer sign you in, and your personal data is deleted after 30 days. This cannot be undone.',
    closeAsk: 'Close your iAM Smart account for good?',
    closedTitle: 'Your account is closed',
    closedIntro: 'Your personal data will be deleted. Thank you for using iAM Smart.',
    forgetTitle: 'Remove iAM Smart from this browser',
    confirmAgain: 'Confirm it is you to do this.',
    // errors
    problemTitle: 'Something went wrong',
    errField: '{field}: {detail}',
    'err_details-mismatch': 'The details do not match the Immigration Department’s records. Check them against your identity card and try again, or register at a counter.',
    'err_face-mismatch': 'The face check did not succeed. Take the selfie again facing the camera in good light, or register at a counter.',
    'err_face-check-impossible': 'Your face cannot be checked against the Immigration Department’s records. Please register at a counter.',
    'err_registration-expired': 'This registration has expired or was already used. Please start again.',
    'err_takeover-pending': 'This phone is waiting to take over your account from your other phone. It can be used when the waiting time ends, unless the other phone refuses. To move at once, visit a registration counter.',
    'err_activation-code-invalid': 'This activation code is not valid or has expired. Ask at the counter for a new one.',
    'err_account-not-active': 'This account is closed or suspended. Please ask at a counter.',
    'err_too-many-devices': 'Your account has as many phones as it may have. Remove one in “My phones” first.',
    'err_passkey-refused': 'Your fingerprint, face or screen lock could not be set up for iAM Smart. Try again, or choose a PIN.',
    'err_pin-not-allowed': 'This platform accepts only your phone’s fingerprint, face or screen lock.',
    'err_user-verification-required': 'Confirm it is you (fingerprint, face, screen lock or PIN) to approve on this phone.',
    'err_user-verification-failed': 'Your fingerprint, face or screen lock could not be confirmed. Try again.',
    'err_challenge-invalid': 'This took too long. Try again.',
    'err_request-closed': 'This request was answered already, or it has expired.',
    'err_decision-mismatch': 'This answer does not fit the request any more. Scan the code again.',
    'err_not-plus': 'Signing documents needs iAM Smart+. Upgrade in Settings with a face check, or at a counter.',
    'err_wrong-pin': 'The PIN is wrong. {n} wrong PINs left before this phone stops working with iAM Smart.',
    'err_unavailable-here': 'This is not available on this platform at the moment.',
    'err_field_selfie': 'Your selfie could not be used: face the camera alone, in good light, and take it again.',
    'err_field_card_image': 'The photo of your card could not be used: take it again, flat and in good light.',
    errNetwork: 'iAM Smart could not be reached. Check your internet connection and try again.',
    errServer: 'Something went wrong on our side. Try again later.',
    errReference: 'Reference: {id}',
    errTooMany: 'Too many attempts. For your protection, wait {t} and try again.',
    errStorage: 'This browser does not let iAM Smart keep its key (private browsing?). Open iAM Smart in a normal window.',
    errOld: 'This browser is too old for iAM Smart. Update it, or use another browser.',
    minutes: '{n} min',
    seconds: '{n} s',
  },
  'zh-Hant': ZH_HANT,
  'zh-Hans': ZH_HANS,
};

/** The languages, each with its own name (as its button shows it) and its HTML `lang` code. */
export const LANGUAGES = [
  { id: 'en', name: 'English', code: 'en' },
  { id: 'zh-Hant', name: '繁體中文', code: 'zh-HK' },
  { id: 'zh-Hans', name: '简体中文', code: 'zh-Hans' },
];

/** A language tag (BCP 47) as one of ours, as the platform's pages read it. */
function parse(tag) {
  const [lang, sub] = String(tag || '').toLowerCase().replace('_', '-').split('-');
  if (lang === 'en') return 'en';
  if (lang !== 'zh') return null;
  return ['hans', 'cn', 'sg', 'my'].includes(sub) ? 'zh-Hans' : 'zh-Hant';
}

let current = pick();

function pick() {
  const saved = localStorage.getItem('iamsmart-lang');
  // `zh` was the Traditional Chinese choice before Simplified Chinese was offered.
  if (saved === 'zh') return 'zh-Hant';
  if (STRINGS[saved]) return saved;
  for (const tag of navigator.languages || [navigator.language]) {
    const l = parse(tag);
    if (l) return l;
  }
  return 'en';
}

/** The language in use: `en`, `zh-Hant` or `zh-Hans`. */
export function lang() {
  return current;
}

/** Whether the language in use is Chinese (either script). */
export function isChinese() {
  return current !== 'en';
}

/** The HTML `lang` code of the language in use. */
export function langCode() {
  return LANGUAGES.find((l) => l.id === current).code;
}

/** Switch language (remembered). */
export function setLang(l) {
  current = STRINGS[l] ? l : 'en';
  localStorage.setItem('iamsmart-lang', current);
  document.documentElement.lang = langCode();
}

/** A text, with `{name}` placeholders filled in. Unknown keys show the key (found in tests). */
export function t(key, vars = {}) {
  const s = STRINGS[current][key] ?? STRINGS.en[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, k) => String(vars[k] ?? ''));
}

/** Whether a text exists. */
export function has(key) {
  return key in STRINGS.en;
}

/** The separator of a list in running text. */
export function listSeparator() {
  return isChinese() ? '、' : ', ';
}

/** `text (aside)`, with full-width brackets in Chinese. */
export function aside(text, more) {
  return isChinese() ? `${text}（${more}）` : `${text} (${more})`;
}

/** A duration in ms as minutes or seconds. */
export function duration(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  return s >= 90 ? t('minutes', { n: Math.ceil(s / 60) }) : t('seconds', { n: s });
}

/** Unix ms as a date and time in Hong Kong. */
export function when(ms) {
  const locale = { en: 'en-GB', 'zh-Hant': 'zh-HK', 'zh-Hans': 'zh-Hans-HK' }[current];
  return new Intl.DateTimeFormat(locale, {
    dateStyle: 'medium', timeStyle: 'short', timeZone: 'Asia/Hong_Kong',
  }).format(new Date(ms));
}

/**
 * A text that the platform gives in both languages ({en, zh}, with "zh-Hans" added when the app
 * asks for Simplified Chinese) or as one string.
 */
export function either(v) {
  if (v && typeof v === 'object') {
    if (current === 'en') return v.en || v.zh || '';
    return (current === 'zh-Hans' && v['zh-Hans']) || v.zh || v.en || '';
  }
  return v == null ? '' : String(v);
}

/** A record's `<field>_en` / `<field>_zh` pair (and `_zh_hans`) as one text for [either]. */
export function pair(record, field) {
  return { en: record[`${field}_en`], zh: record[`${field}_zh`], 'zh-Hans': record[`${field}_zh_hans`] };
}

/**
 * A text a service registered in several languages ({en, "zh-Hant", "zh-Hans"}, as the
 * platform sends it) in the reader's language; Chinese falls back to the other script, then to
 * English.
 */
export function localized(v) {
  if (!v || typeof v !== 'object') return v == null ? '' : String(v);
  if (current === 'en') return v.en || '';
  const other = current === 'zh-Hans' ? 'zh-Hant' : 'zh-Hans';
  return v[current] || v[other] || v.en || '';
}

setLang(current);
